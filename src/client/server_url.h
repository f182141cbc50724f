// The server address a client talks to: "http://host:port[/prefix]". Only plain HTTP is
// spoken (TLS belongs to the load balancer in front of kiln serve).
#pragma once

#include <string>

namespace kiln::client {

struct ServerUrl {
  std::string host;
  int port = 80;
  std::string base_path;  // "" or "/prefix" (no trailing slash); prepended to every request path
  std::string text() const;  // "http://host:port/prefix"
};

// Parses a URL; a bare "host:port" is taken as http. Throws kiln::Error naming what is wrong
// (https, a missing host, a port that is not 1..65535, a query or fragment).
ServerUrl parse_server_url(const std::string& url);

}  // namespace kiln::client
