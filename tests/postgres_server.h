// A private PostgreSQL server for tests: a cluster made with initdb in a temporary directory,
// run by an unprivileged user (the `postgres` system user, or `nobody`, when the tests run as
// root, since PostgreSQL refuses to run as root), listening only on a Unix socket in that
// directory. The destructor stops it (immediate mode) and removes the directory, so a failing
// test never leaks a server. No mocks: tests talk to the real thing.
#pragma once

#include <string>

namespace isolated::test {

class PostgresServer {
 public:
  // Creates and starts the cluster; on failure available() is false and error() says why.
  PostgresServer();
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  bool available() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  // A postgresql:// URL for database `postgres` over the Unix socket.
  std::string url() const;
  // Stops the server (a down database for failure tests) and starts it again.
  bool stop();
  bool start();

 private:
  bool run(const std::string& command);

  std::string dir_;
  std::string bin_;
  std::string user_;  // empty when not root: run as ourselves
  std::string error_;
  bool running_ = false;
};

}  // namespace isolated::test
