#include "core/npy.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>

namespace kiln {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
// Real headers are a few hundred bytes; the cap keeps a corrupt length from making
// us scan megabytes of garbage for a dict.
constexpr size_t kMaxHeaderSize = 1 << 20;

struct DTypeCode {
  const char* descr;  // the code without byte-order character
  DType dtype;
};
// One-byte types are written with '|' (byte order not applicable) but '<' is accepted.
constexpr DTypeCode kCodes[] = {
    {"f4", DType::kF32}, {"f2", DType::kF16}, {"f8", DType::kF64}, {"i4", DType::kI32},
    {"i8", DType::kI64}, {"i1", DType::kI8},  {"u1", DType::kU8},  {"b1", DType::kBool},
};

std::string descr_of(DType t, const std::string& source) {
  for (const auto& c : kCodes) {
    if (c.dtype != t) continue;
    return (dtype_size(t) == 1 ? "|" : "<") + std::string(c.descr);
  }
  fail("{}: tensors of dtype {} have no NumPy .npy type code", source, dtype_name(t));
}

// A strict reader of the header's Python dict literal; nothing outside the subset
// numpy writes is accepted.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& source) : text_(text), source_(source) {}

  void parse(std::string* descr, bool* fortran_order, Dims* shape) {
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') { ++pos_; break; }
      const std::string key = parse_string();
      expect(':');
      if (key == "descr") {
        if (have_descr) error("duplicate key 'descr'");
        *descr = parse_string();
        have_descr = true;
      } else if (key == "fortran_order") {
        if (have_order) error("duplicate key 'fortran_order'");
        *fortran_order = parse_bool();
        have_order = true;
      } else if (key == "shape") {
        if (have_shape) error("duplicate key 'shape'");
        *shape = parse_shape();
        have_shape = true;
      } else {
        error(fmt::format("unexpected key '{}'", key));
      }
      skip_space();
      if (peek() == ',') { ++pos_; continue; }
      expect('}');
      break;
    }
    skip_space();
    if (pos_ != text_.size()) error("unexpected text after the header dict");
    if (!have_descr) error("missing key 'descr'");
    if (!have_order) error("missing key 'fortran_order'");
    if (!have_shape) error("missing key 'shape'");
  }

 private:
  [[noreturn]] void error(const std::string& what) const {
    fail("{}: corrupt .npy header at byte {}: {}", source_, pos_, what);
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\t')) ++pos_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) error(fmt::format("expected '{}'", c));
    ++pos_;
  }
  std::string parse_string() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') error("expected a quoted string");
    const size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string_view::npos) error("unterminated string");
    std::string s(text_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return s;
  }
  bool parse_bool() {
    skip_space();
    if (text_.substr(pos_, 4) == "True") { pos_ += 4; return true; }
    if (text_.substr(pos_, 5) == "False") { pos_ += 5; return false; }
    error("expected True or False");
  }
  int64_t parse_int() {
    skip_space();
    if (peek() < '0' || peek() > '9') error("expected a non-negative integer dimension");
    int64_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      if (v > (INT64_MAX - 9) / 10) error("dimension too large");
      v = v * 10 + (peek() - '0');
      ++pos_;
    }
    // Python 2 era writers append 'L' to longs.
    if (peek() == 'L') ++pos_;
    return v;
  }
  Dims parse_shape() {
    expect('(');
    Dims dims;
    skip_space();
    if (peek() == ')') { ++pos_; return dims; }
    while (true) {
      dims.push_back(parse_int());
      if (dims.size() > 32) error("more than 32 dimensions");
      skip_space();
      if (peek() == ',') {
        ++pos_;
        skip_space();
        if (peek() == ')') { ++pos_; break; }
        continue;
      }
      expect(')');
      // "(3)" is the integer 3 in Python, not a tuple; numpy always writes "(3,)".
      if (dims.size() == 1) error("a one-dimensional shape must be written '(n,)'");
      break;
    }
    return dims;
  }

  std::string_view text_;
  const std::string& source_;
  size_t pos_ = 0;
};

DType dtype_from_descr(const std::string& descr, const std::string& source) {
  if (descr.size() == 3) {
    const char order = descr[0];
    const std::string code = descr.substr(1);
    for (const auto& c : kCodes) {
      if (code != c.descr) continue;
      const bool one_byte = dtype_size(c.dtype) == 1;
      if (order == '<' || (one_byte && (order == '|' || order == '=')))
        return c.dtype;
      if (order == '>')
        fail("{}: big-endian .npy data ('{}') is not supported; save it with dtype '<{}'", source, descr, code);
    }
  }
  fail("{}: unsupported .npy dtype '{}' (expected one of <f4 <f2 <f8 <i4 <i8 |i1 |u1 |b1)", source, descr);
}

uint32_t read_le(const unsigned char* p, size_t n) {
  uint32_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint32_t>(p[i]) << (8 * i);
  return v;
}

}  // namespace

Tensor parse_npy(const void* data, size_t size, const std::string& source_name) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  if (size < kMagicSize + 2 || std::memcmp(bytes, kMagic, kMagicSize) != 0)
    fail("{}: not a .npy file (missing the \\x93NUMPY magic)", source_name);
  const int major = bytes[6];
  const int minor = bytes[7];
  if (major < 1 || major > 3 || minor != 0)
    fail("{}: unsupported .npy version {}.{} (expected 1.0, 2.0 or 3.0)", source_name, major, minor);
  const size_t len_size = major == 1 ? 2 : 4;
  const size_t prefix = kMagicSize + 2 + len_size;
  if (size < prefix) fail("{}: truncated .npy header", source_name);
  const size_t header_len = read_le(bytes + kMagicSize + 2, len_size);
  if (header_len > kMaxHeaderSize)
    fail("{}: corrupt .npy header: length {} is implausibly large", source_name, header_len);
  if (size - prefix < header_len)
    fail("{}: truncated .npy header ({} bytes announced, {} present)", source_name, header_len, size - prefix);
  const std::string_view header(reinterpret_cast<const char*>(bytes + prefix), header_len);
  // Version 3 allows UTF-8 in the header; the keys and values kiln accepts are ASCII anyway.
  std::string descr;
  bool fortran_order = false;
  Dims shape;
  HeaderParser(header, source_name).parse(&descr, &fortran_order, &shape);
  const DType dtype = dtype_from_descr(descr, source_name);
  if (fortran_order && shape.size() > 1)
    fail("{}: Fortran-order .npy arrays are not supported; save with np.ascontiguousarray", source_name);
  int64_t numel = 0;
  try {
    numel = num_elements(shape);
  } catch (const Error& e) {
    fail("{}: corrupt .npy header: {}", source_name, e.what());
  }
  const size_t data_size = size - prefix - header_len;
  const size_t item = dtype_size(dtype);
  if (numel > 0 && static_cast<uint64_t>(numel) > data_size / item)
    fail("{}: truncated .npy data: shape {} of {} needs {} bytes, the file has {}", source_name,
         dims_to_string(shape), descr, static_cast<uint64_t>(numel) * item, data_size);
  if (static_cast<uint64_t>(numel) * item != data_size)
    fail("{}: {} unexpected bytes after the .npy data of shape {}", source_name,
         data_size - static_cast<uint64_t>(numel) * item, dims_to_string(shape));
  Tensor t(dtype, shape);
  if (numel > 0) std::memcpy(t.raw(), bytes + prefix + header_len, t.nbytes());
  if (dtype == DType::kBool)  // numpy bools are 0/1 bytes; anything else is corrupt
    for (int64_t i = 0; i < numel; ++i)
      if (static_cast<const uint8_t*>(t.raw())[i] > 1)
        fail("{}: bool element {} has byte value {} (expected 0 or 1)", source_name, i,
             static_cast<const uint8_t*>(t.raw())[i]);
  return t;
}

Tensor read_npy_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail_with(ErrorCode::kNotFound, "{}: cannot open .npy file", path);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) fail("{}: read error", path);
  return parse_npy(bytes.data(), bytes.size(), path);
}

std::string encode_npy(const Tensor& tensor) {
  KILN_CHECK(!tensor.empty(), "cannot write an empty (undefined) tensor as .npy");
  std::string shape = "(";
  for (size_t i = 0; i < tensor.dims().size(); ++i) shape += fmt::format("{}, ", tensor.dims()[i]);
  if (tensor.dims().size() > 1) shape.resize(shape.size() - 2);
  else if (tensor.dims().size() == 1) shape.pop_back();  // "(3,)"
  shape += ")";
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
                                   descr_of(tensor.dtype(), "encode_npy"), shape);
  const bool v2 = header.size() + 1 + kMagicSize + 4 > 65535;
  const size_t prefix = kMagicSize + 2 + (v2 ? 4 : 2);
  const size_t total = (prefix + header.size() + 1 + 63) / 64 * 64;
  header.append(total - prefix - header.size() - 1, ' ');
  header += '\n';
  std::string out(kMagic, kMagicSize);
  out += static_cast<char>(v2 ? 2 : 1);
  out += '\0';
  const uint32_t len = static_cast<uint32_t>(header.size());
  for (size_t i = 0; i < (v2 ? 4u : 2u); ++i) out += static_cast<char>((len >> (8 * i)) & 0xff);
  out += header;
  out.append(static_cast<const char*>(tensor.raw()), tensor.nbytes());
  return out;
}

void write_npy_file(const std::string& path, const Tensor& tensor) {
  const std::string bytes = encode_npy(tensor);
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) fail("{}: cannot create file", path);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) fail("{}: write failed", path);
}

}  // namespace kiln
