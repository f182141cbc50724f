// Fuzzes the TensorFlow GraphDef reader and the checkpoint index (SSTable) parser: any
// bytes must import or throw kiln::Error, never crash, hang or read out of bounds.
// kiln-fuzz-libs: kiln_tf
#include <cstddef>
#include <cstdint>
#include <string>

#include "frontends/tf/checkpoint_reader.h"
#include "frontends/tf/tf_importer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    kiln::tf::import_graphdef_bytes(data, size, "fuzz.pb");
  } catch (const kiln::Error&) {
  }
  try {
    kiln::tf::parse_sstable(std::string(reinterpret_cast<const char*>(data), size), "fuzz.index");
  } catch (const kiln::Error&) {
  }
  return 0;
}
