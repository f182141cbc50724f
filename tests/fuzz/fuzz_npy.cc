// libFuzzer target: any byte string given to the .npy parser either parses or throws
// kiln::Error; it never crashes, reads out of bounds or allocates beyond the input size.
// kiln-fuzz-libs: kiln_core
#include <cstddef>
#include <cstdint>

#include "core/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    kiln::Tensor t = kiln::parse_npy(data, size, "fuzz.npy");
    // What parsed must encode and parse back to the same bytes of data.
    const std::string again = kiln::encode_npy(t);
    kiln::Tensor back = kiln::parse_npy(again.data(), again.size(), "fuzz-roundtrip.npy");
    if (back.dtype() != t.dtype() || back.dims() != t.dims()) __builtin_trap();
  } catch (const kiln::Error&) {
  }
  return 0;
}
