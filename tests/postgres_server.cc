// initdb + pg_ctl in a temporary directory, as an unprivileged user when run as root.
#include "postgres_server.h"

#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace isolated::test {

namespace {

std::string findBin() {
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", ignored)) {
    auto bin = entry.path() / "bin";
    if (std::filesystem::exists(bin / "initdb") && std::filesystem::exists(bin / "pg_ctl")) {
      return bin.string();
    }
  }
  return "";
}

}  // namespace

PostgresServer::PostgresServer() {
  bin_ = findBin();
  if (bin_.empty()) {
    error_ = "PostgreSQL is not installed (Debian's postgresql package; scripts/deps.sh)";
    return;
  }
  char pattern[] = "/tmp/isolated-pg-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) {
    error_ = "mkdtemp failed";
    return;
  }
  dir_ = pattern;
  if (::geteuid() == 0) {
    for (const char* name : {"postgres", "nobody"}) {
      if (passwd* pw = ::getpwnam(name)) {
        user_ = name;
        if (::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
          error_ = "cannot hand the temporary directory to " + user_;
          return;
        }
        break;
      }
    }
    if (user_.empty()) {
      error_ = "running as root and there is no unprivileged user to run PostgreSQL";
      return;
    }
  }
  ::chmod(dir_.c_str(), 0755);
  if (!run(bin_ + "/initdb -D " + dir_ + "/data -U isolated --auth=trust -E UTF8 --no-sync" + " >" +
           dir_ + "/initdb.log 2>&1")) {
    error_ = "initdb failed (see " + dir_ + "/initdb.log)";
    return;
  }
  if (!start()) error_ = "PostgreSQL did not start (see " + dir_ + "/server.log)";
}

PostgresServer::~PostgresServer() {
  if (running_) {
    run(bin_ + "/pg_ctl -D " + dir_ + "/data -m immediate -w stop >/dev/null 2>&1");
  }
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

bool PostgresServer::run(const std::string& command) {
  std::string full =
      user_.empty() ? command : "runuser -u " + user_ + " -- sh -c '" + command + "'";
  return std::system(full.c_str()) == 0;
}

bool PostgresServer::start() {
  running_ =
      run(bin_ + "/pg_ctl -D " + dir_ + "/data -l " + dir_ + "/server.log -w -t 60 -o \"-k " +
          dir_ + " -c listen_addresses= -c fsync=off\"" + " start >/dev/null 2>&1");
  return running_;
}

bool PostgresServer::stop() {
  bool stopped = run(bin_ + "/pg_ctl -D " + dir_ + "/data -m immediate -w stop >/dev/null 2>&1");
  if (stopped) running_ = false;
  return stopped;
}

std::string PostgresServer::url() const {
  return "postgresql://isolated@/postgres?host=" + dir_;
}

}  // namespace isolated::test
