#include "ir/attributes.h"

#include <fmt/ranges.h>

namespace kiln::ir {

namespace {
template <typename T>
const T* get_as(const std::map<std::string, AttributeValue>& m, const std::string& name,
                const char* type_name) {
  auto it = m.find(name);
  if (it == m.end()) return nullptr;
  const T* v = std::get_if<T>(&it->second);
  if (!v) fail("attribute '{}' is not of type {}", name, type_name);
  return v;
}
}  // namespace

int64_t Attributes::get_int(const std::string& name, int64_t fallback) const {
  auto v = get_as<int64_t>(values_, name, "int");
  return v ? *v : fallback;
}
float Attributes::get_float(const std::string& name, float fallback) const {
  auto it = values_.find(name);
  if (it != values_.end()) {  // ints are accepted where a float is expected
    if (auto i = std::get_if<int64_t>(&it->second)) return static_cast<float>(*i);
  }
  auto v = get_as<float>(values_, name, "float");
  return v ? *v : fallback;
}
std::string Attributes::get_string(const std::string& name, const std::string& fallback) const {
  auto v = get_as<std::string>(values_, name, "string");
  return v ? *v : fallback;
}
std::vector<int64_t> Attributes::get_ints(const std::string& name, const std::vector<int64_t>& fallback) const {
  auto v = get_as<std::vector<int64_t>>(values_, name, "ints");
  return v ? *v : fallback;
}
std::vector<float> Attributes::get_floats(const std::string& name, const std::vector<float>& fallback) const {
  auto v = get_as<std::vector<float>>(values_, name, "floats");
  return v ? *v : fallback;
}
std::vector<std::string> Attributes::get_strings(const std::string& name) const {
  auto v = get_as<std::vector<std::string>>(values_, name, "strings");
  return v ? *v : std::vector<std::string>{};
}
const Tensor& Attributes::get_tensor(const std::string& name) const {
  auto v = get_as<Tensor>(values_, name, "tensor");
  if (!v) fail("required attribute '{}' is missing", name);
  return *v;
}
int64_t Attributes::require_int(const std::string& name) const {
  auto v = get_as<int64_t>(values_, name, "int");
  if (!v) fail("required attribute '{}' is missing", name);
  return *v;
}
std::vector<int64_t> Attributes::require_ints(const std::string& name) const {
  auto v = get_as<std::vector<int64_t>>(values_, name, "ints");
  if (!v) fail("required attribute '{}' is missing", name);
  return *v;
}

std::string attribute_to_string(const AttributeValue& value) {
  struct Printer {
    std::string operator()(int64_t v) const { return std::to_string(v); }
    std::string operator()(float v) const { return fmt::format("{}", v); }
    std::string operator()(const std::string& v) const { return "\"" + v + "\""; }
    std::string operator()(const std::vector<int64_t>& v) const { return fmt::format("[{}]", fmt::join(v, ",")); }
    std::string operator()(const std::vector<float>& v) const { return fmt::format("[{}]", fmt::join(v, ",")); }
    std::string operator()(const std::vector<std::string>& v) const { return fmt::format("[{}]", fmt::join(v, ",")); }
    std::string operator()(const Tensor& t) const { return "tensor " + t.describe(); }
  };
  return std::visit(Printer{}, value);
}

}  // namespace kiln::ir
