#include "frontends/tf/checkpoint_reader.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include "frontends/tf/tf_types.h"
#include "tensorflow/tensor_bundle.pb.h"

namespace kiln::tf {

namespace {

constexpr uint64_t kTableMagic = 0xdb4775248b80fb57ull;
constexpr size_t kFooterSize = 48;
constexpr size_t kBlockTrailerSize = 5;  // compression type + crc32c

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail_with(ErrorCode::kNotFound, "{}: cannot open (missing checkpoint file?)", path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// A cursor over untrusted bytes.
struct Reader {
  const char* p;
  const char* end;
  const std::string& what;

  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p >= end) fail("{}: truncated varint", what);
      const uint8_t b = static_cast<uint8_t>(*p++);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    fail("{}: malformed varint", what);
  }
  std::string bytes(uint64_t n) {
    if (n > static_cast<uint64_t>(end - p)) fail("{}: entry runs past the end of its block", what);
    std::string s(p, static_cast<size_t>(n));
    p += n;
    return s;
  }
};

struct BlockHandle {
  uint64_t offset = 0, size = 0;
};

BlockHandle read_handle(Reader& r) { return {r.varint(), r.varint()}; }

// The entries of one block; `file` is the whole table.
void parse_block(const std::string& file, BlockHandle h, const std::string& what,
                 std::vector<std::pair<std::string, std::string>>& out) {
  if (h.offset > file.size() || h.size > file.size() - h.offset ||
      file.size() - h.offset - h.size < kBlockTrailerSize)
    fail("{}: block at offset {} (size {}) lies outside the file", what, h.offset, h.size);
  const char compression = file[h.offset + h.size];
  if (compression != 0)
    fail("{}: compressed table blocks (type {}) are not supported", what, static_cast<int>(compression));
  if (h.size < 4) fail("{}: block too small", what);
  const char* block = file.data() + h.offset;
  uint32_t num_restarts;
  std::memcpy(&num_restarts, block + h.size - 4, 4);
  if (static_cast<uint64_t>(num_restarts) * 4 + 4 > h.size) fail("{}: corrupt block restart array", what);
  const char* entries_end = block + h.size - 4 - 4 * static_cast<uint64_t>(num_restarts);
  Reader r{block, entries_end, what};
  std::string key;
  while (r.p < r.end) {
    const uint64_t shared = r.varint();
    const uint64_t non_shared = r.varint();
    const uint64_t value_len = r.varint();
    if (shared > key.size()) fail("{}: corrupt key prefix in block", what);
    key = key.substr(0, static_cast<size_t>(shared)) + r.bytes(non_shared);
    out.emplace_back(key, r.bytes(value_len));
  }
}

DType entry_dtype(int tf_dtype, const std::string& name, const std::string& what) {
  const DType t = dtype_from_tf(tf_dtype);
  if (t == DType::kUndefined) fail("{}: tensor '{}' has unsupported TensorFlow dtype {}", what, name, tf_dtype);
  return t;
}

}  // namespace

std::map<std::string, std::string> parse_sstable(const std::string& bytes, const std::string& what) {
  if (bytes.size() < kFooterSize) fail("{}: too small to be a checkpoint index ({} bytes)", what, bytes.size());
  const char* footer = bytes.data() + bytes.size() - kFooterSize;
  uint64_t magic;
  std::memcpy(&magic, footer + kFooterSize - 8, 8);
  if (magic != kTableMagic) fail("{}: not a checkpoint index (bad table magic)", what);
  Reader fr{footer, footer + kFooterSize - 8, what};
  read_handle(fr);  // metaindex: unused
  const BlockHandle index = read_handle(fr);
  std::vector<std::pair<std::string, std::string>> index_entries;
  parse_block(bytes, index, what, index_entries);
  std::map<std::string, std::string> table;
  for (auto& [last_key, handle_bytes] : index_entries) {
    Reader hr{handle_bytes.data(), handle_bytes.data() + handle_bytes.size(), what};
    std::vector<std::pair<std::string, std::string>> data;
    parse_block(bytes, read_handle(hr), what, data);
    for (auto& kv : data) table.insert(std::move(kv));
  }
  return table;
}

CheckpointReader CheckpointReader::open(const std::string& prefix) {
  CheckpointReader reader;
  reader.prefix_ = prefix;
  const std::string index_path = prefix + ".index";
  const auto table = parse_sstable(read_file(index_path), index_path);
  auto header_it = table.find("");
  if (header_it == table.end()) fail("{}: checkpoint index has no header entry", index_path);
  tensorflow::BundleHeaderProto header;
  if (!header.ParseFromString(header_it->second)) fail("{}: corrupt checkpoint header", index_path);
  if (header.endianness() != tensorflow::BundleHeaderProto::LITTLE)
    fail("{}: big-endian checkpoints are not supported", index_path);
  if (header.num_shards() < 1 || header.num_shards() > 100000)
    fail("{}: implausible shard count {}", index_path, header.num_shards());
  reader.num_shards_ = header.num_shards();
  for (const auto& [key, value] : table) {
    if (key.empty()) continue;
    tensorflow::BundleEntryProto e;
    if (!e.ParseFromString(value)) fail("{}: corrupt entry for '{}'", index_path, key);
    if (e.slices_size() > 0) fail("{}: '{}' is a partitioned variable (slices), which is not supported", index_path, key);
    if (e.dtype() == tensorflow::DT_STRING || e.dtype() == tensorflow::DT_VARIANT ||
        e.dtype() == tensorflow::DT_RESOURCE)
      continue;  // bookkeeping entries (object graph, save counters), not weights
    CheckpointEntry entry;
    entry.dtype = entry_dtype(e.dtype(), key, index_path);
    for (const auto& d : e.shape().dim()) {
      if (d.size() < 0) fail("{}: '{}' has an unknown dimension", index_path, key);
      entry.dims.push_back(d.size());
    }
    if (e.shard_id() < 0 || e.shard_id() >= reader.num_shards_)
      fail("{}: '{}' refers to shard {} of {}", index_path, key, e.shard_id(), reader.num_shards_);
    if (e.offset() < 0 || e.size() < 0) fail("{}: '{}' has a negative offset or size", index_path, key);
    entry.shard = e.shard_id();
    entry.offset = static_cast<uint64_t>(e.offset());
    entry.size = static_cast<uint64_t>(e.size());
    reader.entries_[key] = std::move(entry);
  }
  return reader;
}

Tensor CheckpointReader::read(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) fail("checkpoint {}: no variable named '{}'", prefix_, name);
  const CheckpointEntry& e = it->second;
  Tensor t(e.dtype, e.dims);
  if (t.nbytes() != e.size)
    fail("checkpoint {}: '{}' is {} but holds {} bytes (expected {})", prefix_, name, t.describe(), e.size,
         t.nbytes());
  const std::string shard = fmt::format("{}.data-{:05d}-of-{:05d}", prefix_, e.shard, num_shards_);
  std::ifstream f(shard, std::ios::binary);
  if (!f) fail_with(ErrorCode::kNotFound, "{}: variables shard is missing (needed for '{}')", shard, name);
  f.seekg(0, std::ios::end);
  const uint64_t file_size = static_cast<uint64_t>(f.tellg());
  if (e.offset > file_size || e.size > file_size - e.offset)
    fail("{}: '{}' lies past the end of the shard (offset {}, size {}, file {} bytes)", shard, name, e.offset, e.size,
         file_size);
  f.seekg(static_cast<std::streamoff>(e.offset));
  f.read(static_cast<char*>(t.raw()), static_cast<std::streamsize>(e.size));
  if (!f) fail("{}: read of '{}' failed", shard, name);
  return t;
}

}  // namespace kiln::tf
