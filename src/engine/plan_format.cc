#include "engine/plan_format.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "engine/plan_graph_json.h"

namespace kiln {

using nlohmann::json;

uint64_t fnv1a64(const void* data, size_t size, uint64_t seed) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t h = seed;
  for (size_t i = 0; i < size; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

namespace {

constexpr const char* kChecksumAlgorithm = "fnv1a-64";

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint32_t get_u32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint64_t get_u64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

uint64_t blob_offset_for(uint64_t header_bytes) {
  const uint64_t end = kPlanPrefixBytes + header_bytes;
  return (end + kPlanBlobAlignment - 1) / kPlanBlobAlignment * kPlanBlobAlignment;
}

std::string hex64(uint64_t v) { return fmt::format("{:016x}", v); }

std::string utc_now() {
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The blob's bytes in file order (zero padding included), for both hashing and writing.
template <typename Sink>
void for_each_blob_chunk(const plan_detail::BlobLayout& blob, Sink&& sink) {
  static const char zeros[kPlanBlobAlignment] = {};
  uint64_t at = 0;
  for (const auto& [offset, tensor] : blob.entries()) {
    if (offset > at) sink(zeros, offset - at);
    sink(tensor.raw(), tensor.nbytes());
    at = offset + tensor.nbytes();
  }
}

}  // namespace

void save_plan(const Plan& plan, const std::string& path) {
  KILN_CHECK(plan.backend == "cpu" || plan.backend == "cuda", "{}: unknown plan backend '{}'", path, plan.backend);
  plan_detail::BlobLayout blob;
  json graph = plan_detail::graph_to_json(plan.graph, blob);
  uint64_t blob_hash = 0xcbf29ce484222325ULL;
  for_each_blob_chunk(blob, [&](const void* p, size_t n) { blob_hash = fnv1a64(p, n, blob_hash); });

  json header = {
      {"format_version", kPlanFormatVersion},
      {"kiln_version", kKilnVersion},
      {"created", utc_now()},
      {"backend", plan.backend},
      {"precision", std::string(precision_name(plan.precision))},
      {"max_batch_size", plan.max_batch_size},
      {"device", plan.device.is_null() ? json::object() : plan.device},
      {"graph", std::move(graph)},
      {"backend_data", plan.backend_data.is_null() ? json::object() : plan.backend_data},
      {"blob", {{"nbytes", blob.size()}}},
      {"checksums", {{"algorithm", kChecksumAlgorithm}, {"blob", hex64(blob_hash)}}},
  };
  const std::string text = header.dump();

  std::string prefix(kPlanMagic, sizeof kPlanMagic);
  put_u32(prefix, kPlanFormatVersion);
  put_u32(prefix, 0);
  put_u64(prefix, text.size());
  put_u64(prefix, fnv1a64(text.data(), text.size()));

  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail("{}: cannot write: {}", tmp, std::strerror(errno));
    out.write(prefix.data(), static_cast<std::streamsize>(prefix.size()));
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    const uint64_t pad = blob_offset_for(text.size()) - kPlanPrefixBytes - text.size();
    out.write(std::string(pad, '\0').data(), static_cast<std::streamsize>(pad));
    for_each_blob_chunk(blob, [&](const void* p, size_t n) {
      out.write(static_cast<const char*>(p), static_cast<std::streamsize>(n));
    });
    out.flush();
    if (!out) {
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      fail("{}: write failed (disk full?)", tmp);
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) fail("{}: cannot rename {} into place: {}", path, tmp, ec.message());
}

namespace {

Plan parse_plan(const uint8_t* data, size_t size, const std::string& what, std::shared_ptr<void> owner) {
  if (size < kPlanPrefixBytes) {
    if (size >= sizeof kPlanMagic && std::memcmp(data, kPlanMagic, sizeof kPlanMagic) != 0)
      fail("{}: not a kiln plan (bad magic)", what);
    fail("{}: truncated: {} bytes, a plan starts with a {}-byte prefix", what, size, kPlanPrefixBytes);
  }
  if (std::memcmp(data, kPlanMagic, sizeof kPlanMagic) != 0) fail("{}: not a kiln plan (bad magic)", what);
  const uint32_t version = get_u32(data + 8);
  if (version != kPlanFormatVersion)
    fail_with(ErrorCode::kFailedPrecondition,
              "{}: plan format version {} is not supported (this kiln reads version {}); rebuild the plan with kiln build",
              what, version, kPlanFormatVersion);
  const uint32_t flags = get_u32(data + 12);
  if (flags != 0) fail("{}: unknown plan flags 0x{:x}", what, flags);
  const uint64_t header_bytes = get_u64(data + 16);
  const uint64_t header_hash = get_u64(data + 24);
  if (header_bytes > size - kPlanPrefixBytes)
    fail("{}: truncated: header says {} bytes of JSON, file has {} after the prefix", what, header_bytes,
         size - kPlanPrefixBytes);
  const uint8_t* text = data + kPlanPrefixBytes;
  if (fnv1a64(text, header_bytes) != header_hash) fail("{}: header checksum mismatch (the file is corrupt)", what);

  json header;
  try {
    // Copying and printing JSON recurse, so a deeply nested header could overflow the stack.
    constexpr int kMaxDepth = 64;
    header = json::parse(text, text + header_bytes, [&](int depth, json::parse_event_t, json&) {
      if (depth > kMaxDepth) fail("{}: header nests deeper than {} levels", what, kMaxDepth);
      return true;
    });
  } catch (const json::exception& e) {
    fail("{}: header is not valid JSON: {}", what, e.what());
  }
  if (!header.is_object()) fail("{}: header: expected a JSON object", what);

  // `path` names the enclosing object ("" for the top level) in messages.
  auto field = [&](const json& obj, const char* key, const std::string& path) -> const json& {
    const std::string where = path.empty() ? "" : path + ": ";
    if (!obj.is_object()) fail("{}: header: {}expected an object", what, where);
    auto it = obj.find(key);
    if (it == obj.end()) fail("{}: header: {}missing field '{}'", what, where, key);
    return *it;
  };
  auto text_field = [&](const json& obj, const char* key, const std::string& path) {
    const json& v = field(obj, key, path);
    if (!v.is_string()) fail("{}: header: {}{}: expected a string", what, path.empty() ? "" : path + ".", key);
    return v.get<std::string>();
  };

  const json& fv = field(header, "format_version", "");
  if (!fv.is_number_unsigned() || fv.get<uint64_t>() != kPlanFormatVersion)
    fail("{}: header: format_version {} does not match the prefix's version {}", what, fv.dump(), version);

  // Blob: position follows from the header length; its length and checksum from the header.
  const json& jblob = field(header, "blob", "");
  const json& jnbytes = field(jblob, "nbytes", "blob");
  if (!jnbytes.is_number_unsigned()) fail("{}: header: blob.nbytes: expected a non-negative integer", what);
  const uint64_t blob_bytes = jnbytes.get<uint64_t>();
  const uint64_t blob_at = blob_offset_for(header_bytes);
  const uint64_t available = size > blob_at ? size - blob_at : 0;
  // The padding is covered by no checksum, so it must be exactly what save_plan writes.
  for (uint64_t i = kPlanPrefixBytes + header_bytes; i < std::min<uint64_t>(blob_at, size); ++i)
    if (data[i] != 0) fail("{}: non-zero padding byte at offset {} (the file is corrupt)", what, i);
  if (blob_bytes > available)
    fail("{}: truncated: header says {} bytes of weights, file has {}", what, blob_bytes, available);
  if (blob_bytes < available)
    fail("{}: {} unexpected bytes after the weights (the file is corrupt)", what, available - blob_bytes);
  const json& sums = field(header, "checksums", "");
  const std::string algorithm = text_field(sums, "algorithm", "checksums");
  if (algorithm != kChecksumAlgorithm) fail("{}: header: unknown checksum algorithm '{}'", what, algorithm);
  const std::string expected = text_field(sums, "blob", "checksums");
  if (hex64(fnv1a64(data + blob_at, blob_bytes)) != expected)
    fail("{}: weight blob checksum mismatch (the file is corrupt)", what);

  Plan plan;
  plan.kiln_version = text_field(header, "kiln_version", "");
  plan.created = text_field(header, "created", "");
  plan.backend = text_field(header, "backend", "");
  if (plan.backend != "cpu" && plan.backend != "cuda") fail("{}: header: unknown backend '{}'", what, plan.backend);
  try {
    plan.precision = parse_precision(text_field(header, "precision", ""));
  } catch (const Error& e) {
    fail("{}: header: precision: {}", what, e.what());
  }
  const json& batch = field(header, "max_batch_size", "");
  if (!batch.is_number_integer() || batch.get<int64_t>() < 1 || batch.get<int64_t>() > INT32_MAX)
    fail("{}: header: max_batch_size: expected a positive integer, got {}", what, batch.dump());
  plan.max_batch_size = static_cast<int>(batch.get<int64_t>());
  plan.device = field(header, "device", "");
  if (!plan.device.is_object()) fail("{}: header: device: expected an object", what);
  plan.backend_data = field(header, "backend_data", "");
  plan.graph = plan_detail::graph_from_json(field(header, "graph", ""),
                                            {data + blob_at, blob_bytes, std::move(owner)}, what);
  return plan;
}

// Unmaps the file when the last tensor wrapping it is gone.
struct Mapping {
  void* address = nullptr;
  size_t length = 0;
  ~Mapping() {
    if (address) munmap(address, length);
  }
};

}  // namespace

Plan load_plan(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    fail_with(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kInvalidArgument, "{}: cannot open: {}", path,
              std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail("{}: not a regular file", path);
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size < kPlanPrefixBytes) {
    ::close(fd);
    std::vector<uint8_t> small(size);
    std::ifstream(path, std::ios::binary).read(reinterpret_cast<char*>(small.data()), static_cast<std::streamsize>(size));
    return parse_plan(small.data(), size, path, nullptr);  // reports the truncation
  }
  // Private and writable: pages are copy-on-write, so a kernel that writes into a
  // constant by mistake changes its own copy, never the file.
  void* address = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  ::close(fd);
  if (address == MAP_FAILED) fail("{}: cannot map: {}", path, std::strerror(map_errno));
  auto mapping = std::make_shared<Mapping>();
  mapping->address = address;
  mapping->length = size;
  return parse_plan(static_cast<const uint8_t*>(address), size, path, mapping);
}

Plan parse_plan_bytes(const void* data, size_t size, const std::string& what) {
  // A 256-aligned private copy, so constants can wrap it whatever the caller does with `data`.
  std::shared_ptr<uint8_t[]> copy(new (std::align_val_t(kPlanBlobAlignment)) uint8_t[size ? size : 1],
                                  [](uint8_t* p) { ::operator delete[](p, std::align_val_t(kPlanBlobAlignment)); });
  if (size) std::memcpy(copy.get(), data, size);
  return parse_plan(copy.get(), size, what, std::shared_ptr<void>(copy, copy.get()));
}

}  // namespace kiln
