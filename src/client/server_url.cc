#include "client/server_url.h"

#include <charconv>

#include "core/error.h"

namespace kiln::client {

std::string ServerUrl::text() const {
  const bool v6 = host.find(':') != std::string::npos;
  return fmt::format("http://{}{}{}:{}{}", v6 ? "[" : "", host, v6 ? "]" : "", port, base_path);
}

ServerUrl parse_server_url(const std::string& url) {
  std::string rest = url;
  const size_t scheme_end = rest.find("://");
  if (scheme_end != std::string::npos) {
    const std::string scheme = rest.substr(0, scheme_end);
    if (scheme == "https")
      fail("--url {}: https is not supported; kiln serve speaks plain HTTP (use http://)", url);
    if (scheme != "http") fail("--url {}: unknown scheme \"{}\" (use http://HOST:PORT)", url, scheme);
    rest = rest.substr(scheme_end + 3);
  }
  if (rest.find_first_of("?#") != std::string::npos)
    fail("--url {}: give the server address only, without a query or fragment", url);
  ServerUrl out;
  const size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) {
    out.base_path = rest.substr(slash);
    while (!out.base_path.empty() && out.base_path.back() == '/') out.base_path.pop_back();
  }
  if (authority.find('@') != std::string::npos) fail("--url {}: credentials in the URL are not supported", url);
  std::string port_text;
  if (!authority.empty() && authority[0] == '[') {
    const size_t close = authority.find(']');
    if (close == std::string::npos) fail("--url {}: unterminated IPv6 address", url);
    out.host = authority.substr(1, close - 1);
    const std::string after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') fail("--url {}: expected ':PORT' after the IPv6 address", url);
      port_text = after.substr(1);
    }
  } else {
    const size_t colon = authority.rfind(':');
    out.host = authority.substr(0, colon);
    if (colon != std::string::npos) port_text = authority.substr(colon + 1);
  }
  if (out.host.empty()) fail("--url {}: no host (expected http://HOST:PORT)", url);
  if (!port_text.empty() || (authority.find(':') != std::string::npos && authority[0] != '[')) {
    int port = 0;
    auto r = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port_text.empty() || r.ec != std::errc() || r.ptr != port_text.data() + port_text.size() || port < 1 ||
        port > 65535)
      fail("--url {}: port \"{}\" is not a number in 1..65535", url, port_text);
    out.port = port;
  }
  return out;
}

}  // namespace kiln::client
