// tests/fetch_origin.py as a child process: the origin that fetch() tests fetch from. The
// constructor returns once it listens (its port, or 0 if it failed to start); the destructor
// kills and reaps it, so a failing test never leaks it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace isolated::test {

class Origin {
 public:
  // `extra`: arguments for fetch_origin.py (--cert FILE --key FILE for HTTPS).
  explicit Origin(std::vector<std::string> extra = {});
  ~Origin();
  Origin(const Origin&) = delete;
  Origin& operator=(const Origin&) = delete;

  uint16_t port() const { return port_; }
  std::string url(const std::string& path, const std::string& host = "127.0.0.1",
                  const std::string& scheme = "http") const {
    return scheme + "://" + host + ":" + std::to_string(port_) + path;
  }

 private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

}  // namespace isolated::test
