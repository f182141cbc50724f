#include "server/json_writer.h"

namespace kiln::server {

void append_json_escaped(std::string& out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default:
        if (c < 0x20) {
          out.append("\\u00");
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
}

void JsonWriter::string(std::string_view s) {
  out_.push_back('"');
  append_json_escaped(out_, s);
  out_.push_back('"');
}

// JSON has no NaN/Infinity; TF Serving writes them as NaN / Infinity tokens, which most
// clients (Python json) accept, so do the same rather than failing the whole response.
void JsonWriter::number(double v) {
  if (std::isnan(v)) { out_.append("NaN"); return; }
  if (std::isinf(v)) { out_.append(v > 0 ? "Infinity" : "-Infinity"); return; }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out_.append(buf, r.ptr);
}

void JsonWriter::number(float v) {
  if (std::isnan(v)) { out_.append("NaN"); return; }
  if (std::isinf(v)) { out_.append(v > 0 ? "Infinity" : "-Infinity"); return; }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out_.append(buf, r.ptr);
}

}  // namespace kiln::server
