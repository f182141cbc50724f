// libFuzzer target for plan files: any byte string either loads as a plan or throws
// kiln::Error; it never crashes or reads outside the input.
//
// Checksums would stop almost every mutated input at the first check, so half of the
// inputs (first byte even) are taken as header JSON + blob and wrapped in a container
// with correct lengths and checksums (patched into the JSON when it parses as an object):
// that half exercises the JSON schema and graph validation; the other half (first byte
// odd) is parsed raw, as a file would be.
// kiln-fuzz-libs: kiln_core
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "engine/plan_format.h"

namespace {

void put(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// Input after the selector byte: "<header JSON>\0<blob>".
std::string wrap_in_container(const uint8_t* data, size_t size) {
  const auto* nul = static_cast<const uint8_t*>(std::memchr(data, 0, size));
  const size_t header_size = nul ? static_cast<size_t>(nul - data) : size;
  const size_t blob_at = nul ? header_size + 1 : size;
  const size_t blob_size = size - blob_at;
  std::string header(reinterpret_cast<const char*>(data), header_size);
  try {
    // Deeply nested input is the loader's to refuse; printing it here would recurse too deep.
    nlohmann::json j = nlohmann::json::parse(header, [](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
      if (depth > 64) throw std::length_error("too deep");
      return true;
    });
    if (j.is_object()) {
      j["blob"] = {{"nbytes", blob_size}};
      j["checksums"] = {{"algorithm", "fnv1a-64"},
                        {"blob", fmt::format("{:016x}", kiln::fnv1a64(data + blob_at, blob_size))}};
      header = j.dump();
    }
  } catch (const std::exception&) {  // not JSON, or too deep: used unchanged
  }
  std::string out(kiln::kPlanMagic, sizeof kiln::kPlanMagic);
  put(out, kiln::kPlanFormatVersion, 4);
  put(out, 0, 4);
  put(out, header.size(), 8);
  put(out, kiln::fnv1a64(header.data(), header.size()), 8);
  out += header;
  out.resize((out.size() + kiln::kPlanBlobAlignment - 1) / kiln::kPlanBlobAlignment * kiln::kPlanBlobAlignment, '\0');
  out.append(reinterpret_cast<const char*>(data + blob_at), blob_size);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  try {
    if (data[0] & 1) {
      kiln::parse_plan_bytes(data + 1, size - 1, "fuzz.plan");
    } else {
      const std::string file = wrap_in_container(data + 1, size - 1);
      kiln::Plan plan = kiln::parse_plan_bytes(file.data(), file.size(), "fuzz.plan");
      // Whatever loads must be writable again.
      (void)kiln::ir::dump(plan.graph);
    }
  } catch (const kiln::Error&) {
  }
  return 0;
}
