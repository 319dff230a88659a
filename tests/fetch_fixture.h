// Helpers of the outbound fetch() tests (fetch_test.cc, fetch_stream_test.cc): the handler
// script, asking it to fetch a URL, reading /proc figures and Prometheus samples.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <utility>

#include "http_client.h"
#include "server_process.h"

namespace isolated::test {

using nlohmann::json;

inline const std::string kScripts = ISOLATED_TEST_SCRIPTS;

inline std::string encode(const std::string& text) {
  std::string out;
  const char* hex = "0123456789ABCDEF";
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// Asks the handler to run `route` against `target`; returns the status and parsed JSON.
inline std::pair<long, json> ask(const ServerProcess& server, const std::string& route,
                                 const std::string& target, const std::string& extra = "") {
  auto r = httpGet(server.baseUrl() + route + "?url=" + encode(target) + extra);
  json body = json::parse(r.body, nullptr, false);
  if (body.is_discarded()) body = json{{"raw", r.body}, {"error", r.error}};
  return {r.status, body};
}

inline std::string contentOf(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : j.dump();
}

inline bool has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A kB figure from /proc/PID/status ("VmHWM", "VmRSS"); 0 when unreadable.
inline long procStatusKb(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::atol(line.c_str() + field.size() + 1);
  }
  return 0;
}

class FetchTest : public ::testing::Test {
 protected:
  static std::string script() { return kScripts + "/fetcher.js"; }
};

// The value of an unlabelled sample, or of one with `label`, in a Prometheus text body (-1 if
// absent).
inline double metric(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

}  // namespace isolated::test
