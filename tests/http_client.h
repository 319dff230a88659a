// A small blocking HTTP client (libcurl) for integration tests.
#pragma once

#include <chrono>
#include <map>
#include <string>

namespace isolated::test {

struct HttpResult {
  long status = 0;  // 0 when the request failed at the transport level
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string error;                           // libcurl's message when status is 0
};

HttpResult httpRequest(const std::string& method, const std::string& url,
                       const std::string& body = {},
                       std::map<std::string, std::string> headers = {},
                       std::chrono::milliseconds timeout = std::chrono::seconds(30));

inline HttpResult httpGet(const std::string& url) {
  return httpRequest("GET", url);
}

// Whether a TCP connection to 127.0.0.1:port is refused (nothing listening).
bool connectionRefused(uint16_t port);

}  // namespace isolated::test
