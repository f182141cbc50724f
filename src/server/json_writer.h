// A small streaming JSON writer for responses: numbers through std::to_chars (shortest
// round-trip form), strings escaped, no DOM. The caller is responsible for structure;
// `comma()` inserts separators so loops stay simple.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

namespace kiln::server {

class JsonWriter {
 public:
  std::string& out() { return out_; }
  std::string take() { return std::move(out_); }

  void raw(std::string_view s) { out_.append(s); }
  void string(std::string_view s);
  void key(std::string_view k) { string(k); out_.push_back(':'); }
  void number(double v);
  void number(float v);
  void number(int64_t v) { integer(v); }
  void number(int32_t v) { integer(v); }
  void number(uint64_t v) { integer(v); }
  void boolean(bool v) { out_.append(v ? "true" : "false"); }
  // Appends "," unless `first`, then clears it: `bool first = true; for (...) { w.comma(first); ... }`.
  void comma(bool& first) {
    if (!first) out_.push_back(',');
    first = false;
  }

 private:
  template <typename T>
  void integer(T v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, r.ptr);
  }
  std::string out_;
};

// Escapes a string for inclusion in JSON (without the quotes).
void append_json_escaped(std::string& out, std::string_view s);

}  // namespace kiln::server
