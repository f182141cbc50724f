// Reads TensorFlow checkpoints (tensor bundles): `<prefix>.index`, a LevelDB-format table
// mapping tensor names to BundleEntryProto, and `<prefix>.data-NNNNN-of-MMMMM` shards
// holding the raw bytes. Every offset and length is bounds-checked: the files are input.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace kiln::tf {

struct CheckpointEntry {
  DType dtype = DType::kUndefined;
  Dims dims;
  int shard = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
};

class CheckpointReader {
 public:
  // `prefix` is e.g. "model/variables/variables". Throws naming the file on any problem.
  static CheckpointReader open(const std::string& prefix);

  bool has(const std::string& name) const { return entries_.count(name) != 0; }
  const std::map<std::string, CheckpointEntry>& entries() const { return entries_; }
  // Reads one tensor, checking its size against dtype and shape.
  Tensor read(const std::string& name) const;

 private:
  std::string prefix_;
  int num_shards_ = 1;
  std::map<std::string, CheckpointEntry> entries_;
};

// Parses a LevelDB-format table (uncompressed blocks) into key -> value. Exposed for tests
// and the fuzz target.
std::map<std::string, std::string> parse_sstable(const std::string& bytes, const std::string& what);

}  // namespace kiln::tf
