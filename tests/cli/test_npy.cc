#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <random>
#include <string>

#include "core/npy.h"

namespace kiln {
namespace {

// A .npy image with the given header dict, padded as numpy pads it, followed by `payload`.
std::string make_npy(const std::string& dict, const std::string& payload, int major = 1) {
  const size_t prefix = major == 1 ? 10 : 12;
  std::string header = dict;
  const size_t total = (prefix + header.size() + 1 + 63) / 64 * 64;
  header.append(total - prefix - header.size() - 1, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  const uint32_t n = static_cast<uint32_t>(header.size());
  for (size_t i = 0; i < (major == 1 ? 2u : 4u); ++i) out += static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + payload;
}

template <typename T>
std::string bytes_of(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

Tensor parse(const std::string& s) { return parse_npy(s.data(), s.size(), "x.npy"); }

// Expects parse to throw a kiln::Error whose message contains `needle`.
void expect_error(const std::string& s, const std::string& needle) {
  try {
    parse(s);
    ADD_FAILURE() << "no error; expected one mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("x.npy"), std::string::npos) << e.what();
  }
}

// The exact bytes numpy 2.x writes for np.array([[1.5,-2,3],[0.25,7,-8]], dtype='<f4').
std::string numpy_f32_2x3() {
  const std::vector<float> v = {1.5f, -2.0f, 3.0f, 0.25f, 7.0f, -8.0f};
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  header.append(117 - header.size(), ' ');
  header += '\n';
  return std::string("\x93NUMPY\x01\x00\x76\x00", 10) + header + bytes_of(v);
}

TEST(Npy, ReadsWhatNumpyWrites) {
  const Tensor t = parse(numpy_f32_2x3());
  EXPECT_EQ(t.dtype(), DType::kF32);
  EXPECT_EQ(t.dims(), (Dims{2, 3}));
  EXPECT_EQ(t.to_doubles(), (std::vector<double>{1.5, -2, 3, 0.25, 7, -8}));
}

TEST(Npy, WritesByteForByteWhatNumpyWrites) {
  const Tensor t = Tensor::from_vector<float>({2, 3}, {1.5f, -2.0f, 3.0f, 0.25f, 7.0f, -8.0f});
  EXPECT_EQ(encode_npy(t), numpy_f32_2x3());
}

TEST(Npy, ReadsVersion2AndOneDimensionalShapes) {
  const Tensor t = parse(make_npy("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }",
                                  bytes_of<int64_t>({1, -2, 3}), 2));
  EXPECT_EQ(t.dtype(), DType::kI64);
  EXPECT_EQ(t.dims(), (Dims{3}));
  EXPECT_EQ(t.to_int64s(), (std::vector<int64_t>{1, -2, 3}));
}

TEST(Npy, ReadsScalarsAndKeysInAnyOrder) {
  const Tensor t = parse(make_npy("{'shape': (), 'fortran_order': False, 'descr': '|b1'}", "\x01"));
  EXPECT_EQ(t.dtype(), DType::kBool);
  EXPECT_TRUE(t.dims().empty());
  EXPECT_EQ(t.to_doubles(), (std::vector<double>{1.0}));
}

TEST(Npy, RoundTripsEveryDtypeWithRandomValues) {
  std::mt19937 rng(42);
  std::uniform_real_distribution<double> dist(-100.0, 100.0);
  for (DType dt : {DType::kF32, DType::kF16, DType::kF64, DType::kI8, DType::kU8, DType::kI32, DType::kI64,
                   DType::kBool}) {
    Tensor src(DType::kF64, {2, 3, 5});
    for (double& x : src.span<double>()) x = dist(rng);
    const Tensor typed = src.cast(dt);
    const Tensor back = parse(encode_npy(typed));
    EXPECT_EQ(back.dtype(), dt) << dtype_name(dt);
    EXPECT_EQ(back.dims(), typed.dims());
    ASSERT_EQ(back.nbytes(), typed.nbytes());
    EXPECT_EQ(std::memcmp(back.raw(), typed.raw(), typed.nbytes()), 0) << dtype_name(dt);
  }
}

TEST(Npy, HeaderIsPaddedTo64Bytes) {
  for (Dims dims : {Dims{}, Dims{7}, Dims{1, 3, 224, 224}, Dims{0, 4}}) {
    const std::string s = encode_npy(Tensor(DType::kF32, dims));
    const size_t header_len = static_cast<unsigned char>(s[8]) | (static_cast<unsigned char>(s[9]) << 8);
    EXPECT_EQ((10 + header_len) % 64, 0u) << dims_to_string(dims);
    EXPECT_EQ(s[10 + header_len - 1], '\n');
    EXPECT_EQ(parse(s).dims(), dims);
  }
}

TEST(Npy, FileRoundTrip) {
  const auto path = std::filesystem::temp_directory_path() / "kiln_test_npy_roundtrip.npy";
  const Tensor t = Tensor::from_vector<int32_t>({2, 2}, {1, -7, 1 << 20, 3});
  write_npy_file(path.string(), t);
  EXPECT_EQ(read_npy_file(path.string()).to_int64s(), (std::vector<int64_t>{1, -7, 1 << 20, 3}));
  std::filesystem::remove(path);
}

TEST(Npy, MissingFileIsNotFound) {
  try {
    read_npy_file("/nonexistent/kiln/x.npy");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/kiln/x.npy"), std::string::npos);
  }
}

TEST(Npy, RejectsBf16OnWrite) {
  EXPECT_THROW(encode_npy(Tensor(DType::kBF16, {2})), Error);
}

const std::string kF32Payload = bytes_of<float>({1, 2, 3});

TEST(NpyCorrupt, BadMagicAndVersion) {
  expect_error("hello world, not numpy", "magic");
  expect_error("", "magic");
  std::string s = make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", kF32Payload);
  s[6] = 9;
  expect_error(s, "version 9.0");
}

TEST(NpyCorrupt, TruncatedHeaderAndData) {
  const std::string good = make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", kF32Payload);
  expect_error(good.substr(0, 9), "truncated");
  expect_error(good.substr(0, 40), "truncated .npy header");
  expect_error(good.substr(0, good.size() - 1), "truncated .npy data");
  expect_error(good + "xx", "unexpected bytes");
}

TEST(NpyCorrupt, HeaderLengthBeyondLimits) {
  std::string s = make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", kF32Payload, 2);
  s[10] = '\x7f';  // header length 0x7f0000xx
  s[11] = '\x7f';
  expect_error(s, "implausibly large");
}

TEST(NpyCorrupt, MalformedDicts) {
  const std::string p = kF32Payload;
  expect_error(make_npy("{'descr': '<f4', 'fortran_order': False}", p), "missing key 'shape'");
  expect_error(make_npy("{'descr': '<f4', 'shape': (3,)}", p), "missing key 'fortran_order'");
  expect_error(make_npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3,)}", p),
               "duplicate key");
  expect_error(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'x': 1}", p), "unexpected key");
  expect_error(make_npy("{'descr': '<f4', 'fortran_order': Nope, 'shape': (3,)}", p), "True or False");
  expect_error(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-3,)}", p), "non-negative");
  expect_error(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3)}", p), "(n,)");
  expect_error(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,)", p), "expected '}'");
  expect_error(make_npy("{'descr': '<f4, 'fortran_order': False, 'shape': (3,)}", p), "");
  expect_error(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,)} junk", p), "after the header");
  expect_error(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", p),
               "too large");
}

TEST(NpyCorrupt, HugeShapeDoesNotAllocate) {
  expect_error(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000, 100000),}",
                        kF32Payload),
               "truncated .npy data");
  expect_error(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4),}",
                        kF32Payload),
               "too many elements");
}

TEST(NpyCorrupt, UnsupportedDtypesAndOrders) {
  const std::string p = kF32Payload;
  expect_error(make_npy("{'descr': '>f4', 'fortran_order': False, 'shape': (3,)}", p), "big-endian");
  expect_error(make_npy("{'descr': '<c8', 'fortran_order': False, 'shape': (3,)}", p), "unsupported .npy dtype");
  expect_error(make_npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,)}", p), "quoted string");
  expect_error(make_npy("{'descr': '<f4', 'fortran_order': True, 'shape': (3, 1)}", p), "Fortran");
}

TEST(NpyCorrupt, BoolBytesMustBeZeroOrOne) {
  expect_error(make_npy("{'descr': '|b1', 'fortran_order': False, 'shape': (2,)}", std::string("\x01\x05", 2)),
               "byte value 5");
}

}  // namespace
}  // namespace kiln
