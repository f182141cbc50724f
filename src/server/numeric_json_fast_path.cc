#include "server/numeric_json_fast_path.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <string>

#include "server/tensor_rows.h"

namespace kiln::server {

namespace {

// Exactly representable powers of ten (Clinger's fast path).
constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                             1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

inline bool is_digit(char c) { return static_cast<unsigned char>(c - '0') < 10; }
inline bool is_ws(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
inline bool starts_number(char c) { return c == '-' || is_digit(c); }

// Parses one JSON number starting at p (< end) into *out; returns the end of the number,
// or nullptr to decline (not JSON number grammar, or a value the general parser must judge:
// integers beyond 18 digits, doubles out of range).
inline const char* parse_number(const char* p, const char* end, float* out) {
  const char* const start = p;
  bool negative = false;
  if (*p == '-') {
    negative = true;
    if (++p == end) return nullptr;
  }
  uint64_t mantissa = 0;  // wraps past 19 digits, but then it is not used
  int digits = 0;
  if (*p == '0') {
    ++p;
    if (p < end && is_digit(*p)) return nullptr;  // a leading zero is not JSON
  } else if (is_digit(*p)) {
    do {
      mantissa = mantissa * 10 + static_cast<unsigned>(*p - '0');
      ++digits;
      ++p;
    } while (p < end && is_digit(*p));
  } else {
    return nullptr;
  }
  bool integer = true;
  int64_t exp10 = 0;
  if (p < end && *p == '.') {
    integer = false;
    const char* const fraction = ++p;
    while (p < end && is_digit(*p)) {
      mantissa = mantissa * 10 + static_cast<unsigned>(*p - '0');
      ++digits;
      ++p;
    }
    if (p == fraction) return nullptr;
    exp10 = -(p - fraction);
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    integer = false;
    ++p;
    bool negative_exp = false;
    if (p < end && (*p == '+' || *p == '-')) negative_exp = *p++ == '-';
    const char* const exp_digits = p;
    int64_t e = 0;
    while (p < end && is_digit(*p)) {
      if (e < 100000) e = e * 10 + (*p - '0');
      ++p;
    }
    if (p == exp_digits) return nullptr;
    exp10 += negative_exp ? -e : e;
  }
  double d;
  if (integer) {
    // As the general path: an int64 converted to double (so "-0" is +0).
    if (digits > 18) return nullptr;
    const auto i = static_cast<int64_t>(mantissa);
    d = static_cast<double>(negative ? -i : i);
  } else if (digits <= 19 && mantissa <= (uint64_t{1} << 53) && exp10 >= -22 && exp10 <= 22) {
    // The mantissa and 10^|e| are exact doubles, so one IEEE operation rounds correctly.
    d = static_cast<double>(mantissa);
    d = exp10 < 0 ? d / kPow10[-exp10] : d * kPow10[exp10];
    if (negative) d = -d;
  } else {
    // Long or far-out numbers: the library's correctly rounded parse (grammar checked above).
    const auto r = std::from_chars(start, p, d);
    if (r.ec != std::errc() || r.ptr != p) return nullptr;
  }
  *out = static_cast<float>(d);
  return p;
}

enum class Step { kOk, kReject, kDecline };

// Reads rows shaped like the model's row dims. Index bookkeeping is only for messages.
class RowScanner {
 public:
  RowScanner(const char* p, const char* end, const Dims& row, std::string_view key)
      : p_(p), end_(end), row_(row), key_(key), index_(row.size() + 1, 0), stride_(row.size(), 1) {
    for (size_t d = row.size(); d-- > 1;) stride_[d - 1] = stride_[d] * row[d];
  }

  const char* position() const { return p_; }
  void set_position(const char* p) { p_ = p; }
  const std::string& message() const { return message_; }

  void skip_ws() {
    while (p_ < end_ && is_ws(*p_)) ++p_;
  }

  // One row at p_ (row index `r`) into dst.
  Step row(int64_t r, float* dst) {
    index_[0] = r;
    if (p_ >= end_) return Step::kDecline;
    if (row_.empty()) {
      if (*p_ == '[') return reject(1, "expected a number, got a list");
      const char* q = parse_number(p_, end_, dst);
      if (!q) return Step::kDecline;
      p_ = q;
      return Step::kOk;
    }
    if (*p_ != '[')
      return starts_number(*p_) ? reject(1, fmt::format("expected a list of {} values, got a number", row_[0]))
                                : Step::kDecline;
    return list(0, dst);
  }

 private:
  // The list at p_ ('[') holding dimension `depth` of the row; dst == nullptr counts only
  // (the extra elements of a list that is too long, so the message can say how many).
  Step list(size_t depth, float* dst) {
    ++p_;
    skip_ws();
    const int64_t n = row_[depth];
    const bool leaf = depth + 1 == row_.size();
    int64_t count = 0;
    if (p_ < end_ && *p_ == ']') {
      ++p_;
    } else {
      for (;;) {
        if (p_ >= end_) return Step::kDecline;
        float* slot = dst && count < n ? dst + (leaf ? count : count * stride_[depth]) : nullptr;
        if (leaf) {
          float ignored;
          const char* q = parse_number(p_, end_, slot ? slot : &ignored);
          if (!q) {
            if (*p_ != '[') return Step::kDecline;
            index_[depth + 1] = count;
            return reject(depth + 2, "expected a number, got a list");
          }
          p_ = q;
        } else {
          if (*p_ != '[') {
            if (!starts_number(*p_)) return Step::kDecline;
            index_[depth + 1] = count;
            return reject(depth + 2, fmt::format("expected a list of {} values, got a number", row_[depth + 1]));
          }
          index_[depth + 1] = count;
          const Step s = list(depth + 1, slot);
          if (s != Step::kOk) return s;
        }
        ++count;
        skip_ws();
        if (p_ >= end_) return Step::kDecline;
        if (*p_ == ',') {
          ++p_;
          skip_ws();
          continue;
        }
        if (*p_ != ']') return Step::kDecline;
        ++p_;
        break;
      }
    }
    if (count != n)
      return reject(depth + 1, fmt::format("expected {} {}, got {}", n, leaf ? "values" : "lists", count));
    return Step::kOk;
  }

  // Names the list at index_[0 .. levels) ("instances[3][1]").
  Step reject(size_t levels, const std::string& what) {
    message_ = std::string(key_);
    for (size_t i = 0; i < levels; ++i) message_ += fmt::format("[{}]", index_[i]);
    message_ += ": " + what;
    return Step::kReject;
  }

  const char* p_;
  const char* end_;
  const Dims& row_;
  std::string_view key_;
  std::vector<int64_t> index_;
  std::vector<int64_t> stride_;  // elements per entry of each row dimension
  std::string message_;
};

bool consume(RowScanner& s, const char* end, std::string_view text) {
  const char* p = s.position();
  if (static_cast<size_t>(end - p) < text.size() || std::memcmp(p, text.data(), text.size()) != 0) return false;
  s.set_position(p + text.size());
  return true;
}

}  // namespace

FastPathOutcome parse_numeric_predict_fast(std::string_view body, const std::vector<TensorInfo>& inputs,
                                           const ImageInputSpec& image, Tensor* tensor, bool* is_columnar,
                                           Status* status) {
  if (inputs.size() != 1 || inputs[0].dtype != DType::kF32 || inputs[0].dims.empty()) return FastPathOutcome::kDeclined;
  const TensorInfo& info = inputs[0];
  const Dims row(info.dims.begin() + 1, info.dims.end());
  int64_t row_elements = 1;
  for (int64_t d : row) {
    if (d <= 0) return FastPathOutcome::kDeclined;  // dynamic or empty row dims: the general path
    if (row_elements > (int64_t{1} << 40) / d) return FastPathOutcome::kDeclined;
    row_elements *= d;
  }
  // Every value takes at least two bytes ("0,"): a body that cannot hold one row is
  // left to the general path, which also bounds the buffer below by the body's size.
  const size_t row_bound = body.size() / 2 + 1;
  if (static_cast<uint64_t>(row_elements) > row_bound) return FastPathOutcome::kDeclined;
  const int64_t max_rows = static_cast<int64_t>(row_bound / static_cast<uint64_t>(row_elements));

  const char* const end = body.data() + body.size();
  // Top level: {"instances": [ or {"inputs": [, nothing else (no escapes, no other keys).
  std::string_view key;
  {
    RowScanner probe(body.data(), end, row, "");
    probe.skip_ws();
    if (!consume(probe, end, "{")) return FastPathOutcome::kDeclined;
    probe.skip_ws();
    if (consume(probe, end, "\"instances\"")) key = "instances";
    else if (consume(probe, end, "\"inputs\"")) key = "inputs";
    else return FastPathOutcome::kDeclined;
    body.remove_prefix(static_cast<size_t>(probe.position() - body.data()));
  }
  RowScanner scan(body.data(), end, row, key);
  scan.skip_ws();
  if (!consume(scan, end, ":")) return FastPathOutcome::kDeclined;
  scan.skip_ws();
  if (!consume(scan, end, "[")) return FastPathOutcome::kDeclined;
  scan.skip_ws();

  // The rows go straight into an uninitialized buffer sized for ~8 bytes of JSON per
  // value (typical for "%.6g" floats), doubled if the body packs them tighter.
  Dims dims = info.dims;
  int64_t capacity = std::clamp<int64_t>(static_cast<int64_t>(body.size() / (static_cast<size_t>(row_elements) * 8)) + 1,
                                         1, max_rows);
  dims[0] = capacity;
  Tensor buffer = uninitialized_tensor(DType::kF32, dims);
  int64_t rows = 0;
  for (;;) {
    if (rows == capacity) {
      if (capacity >= max_rows) return FastPathOutcome::kDeclined;  // cannot happen for valid JSON
      capacity = std::min(capacity * 2, max_rows);
      dims[0] = capacity;
      Tensor bigger = uninitialized_tensor(DType::kF32, dims);
      std::memcpy(bigger.raw(), buffer.raw(), static_cast<size_t>(rows * row_elements) * sizeof(float));
      buffer = std::move(bigger);
    }
    const Step s = scan.row(rows, buffer.data<float>() + rows * row_elements);
    if (s == Step::kDecline) return FastPathOutcome::kDeclined;
    if (s == Step::kReject) {
      // An image model also takes raw H x W x 3 pixels: rows of another shape may be those.
      if (image.enabled) return FastPathOutcome::kDeclined;
      *status = Status(ErrorCode::kInvalidArgument, fmt::format("input \"{}\": {} (expected shape {})", info.name,
                                                                scan.message(), dims_to_string(info.dims)));
      return FastPathOutcome::kRejected;
    }
    ++rows;
    scan.skip_ws();
    if (consume(scan, end, ",")) {
      scan.skip_ws();
      continue;
    }
    if (consume(scan, end, "]")) break;
    return FastPathOutcome::kDeclined;
  }
  scan.skip_ws();
  if (!consume(scan, end, "}")) return FastPathOutcome::kDeclined;
  scan.skip_ws();
  if (scan.position() != end) return FastPathOutcome::kDeclined;
  *tensor = slice_rows(buffer, 0, rows);
  *is_columnar = key == "inputs";
  return FastPathOutcome::kParsed;
}

}  // namespace kiln::server
