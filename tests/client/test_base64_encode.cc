#include <gtest/gtest.h>

#include <random>

#include "client/base64_encode.h"

namespace kiln::client {
namespace {

TEST(Base64Encode, Rfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
}

TEST(Base64Encode, HighBytesUseTheStandardAlphabet) {
  EXPECT_EQ(base64_encode(std::string("\xff\xfe\xfd", 3)), "//79");
  EXPECT_EQ(base64_encode(std::string("\xfb\xef\xbe", 3)), "++++");
  EXPECT_EQ(base64_encode(std::string("\0\0\0", 3)), "AAAA");
}

// Decodes with a naive bit-by-bit reference to check random buffers round-trip.
std::string naive_decode(const std::string& text) {
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string bits;
  for (char c : text) {
    if (c == '=') break;
    const size_t v = alphabet.find(c);
    for (int b = 5; b >= 0; --b) bits += ((v >> b) & 1) ? '1' : '0';
  }
  std::string out;
  for (size_t i = 0; i + 8 <= bits.size(); i += 8) out += static_cast<char>(std::stoi(bits.substr(i, 8), nullptr, 2));
  return out;
}

TEST(Base64Encode, RandomBuffersRoundTrip) {
  std::mt19937 rng(42);
  for (size_t n = 0; n < 64; ++n) {
    std::string bytes(n, '\0');
    for (auto& c : bytes) c = static_cast<char>(rng() & 0xff);
    const std::string encoded = base64_encode(bytes);
    EXPECT_EQ(encoded.size(), (n + 2) / 3 * 4);
    EXPECT_EQ(naive_decode(encoded), bytes) << "length " << n;
  }
}

}  // namespace
}  // namespace kiln::client
