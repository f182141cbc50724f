// Fuzzes the ONNX importer: any bytes must either import or throw kiln::Error, never
// crash, hang or read out of bounds.
// kiln-fuzz-libs: kiln_onnx
#include <cstddef>
#include <cstdint>

#include "frontends/onnx/onnx_importer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    kiln::onnx::import_onnx_bytes(data, size, "fuzz.onnx");
  } catch (const kiln::Error&) {
  }
  return 0;
}
