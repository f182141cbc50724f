#include <gtest/gtest.h>

#include "client/server_url.h"
#include "core/error.h"

namespace kiln::client {
namespace {

TEST(ServerUrl, ParsesHostPortAndPrefix) {
  ServerUrl u = parse_server_url("http://localhost:8888");
  EXPECT_EQ(u.host, "localhost");
  EXPECT_EQ(u.port, 8888);
  EXPECT_EQ(u.base_path, "");
  u = parse_server_url("http://10.0.0.7:9000/serving/");
  EXPECT_EQ(u.host, "10.0.0.7");
  EXPECT_EQ(u.port, 9000);
  EXPECT_EQ(u.base_path, "/serving");
  EXPECT_EQ(u.text(), "http://10.0.0.7:9000/serving");
}

TEST(ServerUrl, DefaultsAndBareAddresses) {
  EXPECT_EQ(parse_server_url("http://example.com").port, 80);
  ServerUrl u = parse_server_url("127.0.0.1:8501");
  EXPECT_EQ(u.host, "127.0.0.1");
  EXPECT_EQ(u.port, 8501);
  u = parse_server_url("http://[::1]:8888");
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, 8888);
  EXPECT_EQ(u.text(), "http://[::1]:8888");
}

TEST(ServerUrl, RejectsWhatItCannotSpeak) {
  for (const char* bad : {"https://host:443", "ftp://host", "http://:8888", "http://host:0", "http://host:99999",
                          "http://host:80x", "http://host:", "http://host:8888/v1?x=1", "http://user@host:1",
                          "http://[::1"}) {
    try {
      parse_server_url(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("--url"), std::string::npos) << e.what();
    }
  }
  try {
    parse_server_url("https://host:443");
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("https is not supported"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln::client
