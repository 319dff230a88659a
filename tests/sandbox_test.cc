// The worker sandbox against the real binary: what /proc shows of real workers (identity,
// capabilities, no-new-privs, seccomp, namespaces, descriptors), the start-up checks, and the
// seccomp self-test.
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "common/unique_fd.h"
#include "http_client.h"
#include "server_process.h"
#include "temp_dir.h"

namespace isolated::test {
namespace {

const std::string kScripts = ISOLATED_TEST_SCRIPTS;
const std::string kExamples = ISOLATED_EXAMPLES;

// The example script copied into a directory every user can read, so that workers run as the
// default user (nobody) whatever the permissions of the checkout.
class ReadableHello {
 public:
  ReadableHello() {
    std::ifstream in(kExamples + "/hello.js");
    std::stringstream text;
    text << in.rdbuf();
    path_ = dir_.write("hello.js", text.str());
  }
  const std::string& path() const { return path_; }

 private:
  TempDir dir_;
  std::string path_;
};

// The fields of /proc/PID/status.
std::map<std::string, std::string> procStatus(pid_t pid) {
  std::map<std::string, std::string> fields;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    value.erase(value.find_last_not_of(" \t") + 1);
    fields[line.substr(0, colon)] = value;
  }
  return fields;
}

// "soft hard" of one row of /proc/PID/limits ("Max open files", ...).
std::string procLimit(pid_t pid, const std::string& name) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/limits");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name, 0) != 0) continue;
    std::istringstream fields(line.substr(name.size()));
    std::string soft, hard;
    fields >> soft >> hard;
    return soft + " " + hard;
  }
  return "";
}

std::string link(const std::string& path) {
  std::error_code ec;
  auto target = std::filesystem::read_symlink(path, ec);
  return ec ? std::string() : target.string();
}

// fd number -> what it refers to.
std::map<int, std::string> openFds(pid_t pid) {
  std::map<int, std::string> fds;
  std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    fds[std::stoi(entry.path().filename().string())] = link(entry.path().string());
  }
  return fds;
}

std::vector<pid_t> readyWorkers(ServerProcess& server, size_t count) {
  EXPECT_NE(server.waitReady(), 0);
  EXPECT_TRUE(server.waitForCount("worker ready", count));
  auto pids = server.liveWorkerPids();
  EXPECT_EQ(pids.size(), count);
  return pids;
}

// Sandboxed workers need a binary the sandbox's user can run (serverBinary()).
#define SKIP_UNLESS_SANDBOX_USABLE()                                                             \
  do {                                                                                           \
    if (!sandboxUsable())                                                                        \
      GTEST_SKIP() << "the worker user cannot reach " << ISOLATED_BINARY                         \
                   << ": this checkout is in a private directory, and a copy under /tmp failed"; \
  } while (0)

TEST(SandboxTest, WorkersRunWithoutPrivilegesUnderSeccomp) {
  SKIP_UNLESS_SANDBOX_USABLE();
  ReadableHello hello;
  ServerProcess server(hello.path(), {"--workers", "2", "--sandbox", "on"});
  auto pids = readyWorkers(server, 2);
  ASSERT_EQ(httpGet(server.baseUrl() + "/").status, 200);
  auto line = server.waitForLine(
      [](const std::string& l) { return l.find("msg=\"worker sandbox\"") != std::string::npos; });
  ASSERT_TRUE(line);
  const bool ownUserNamespace = logField(*line, "namespaces").find("user") != std::string::npos;
  for (pid_t pid : pids) {
    auto status = procStatus(pid);
    ASSERT_FALSE(status.empty()) << "worker " << pid << " vanished";
    EXPECT_EQ(status["CapEff"], "0000000000000000") << pid;
    EXPECT_EQ(status["CapPrm"], "0000000000000000") << pid;
    EXPECT_EQ(status["CapAmb"], "0000000000000000") << pid;
    if (geteuid() == 0 || ownUserNamespace) {
      EXPECT_EQ(status["CapBnd"], "0000000000000000") << pid;
    }
    EXPECT_EQ(status["NoNewPrivs"], "1") << pid;
    EXPECT_EQ(status["Seccomp"], "2") << pid;  // SECCOMP_MODE_FILTER
    EXPECT_EQ(procLimit(pid, "Max core file size"), "0 0") << pid;
    EXPECT_EQ(procLimit(pid, "Max open files"), "64 64") << pid;
    if (ownUserNamespace) {
      EXPECT_EQ(procLimit(pid, "Max processes"), "64 64") << pid;
    }
    if (geteuid() == 0) {
      passwd* nobody = getpwnam("nobody");
      ASSERT_NE(nobody, nullptr);
      std::string uid = std::to_string(nobody->pw_uid);
      EXPECT_EQ(status["Uid"], uid + "\t" + uid + "\t" + uid + "\t" + uid) << pid;
      std::string gid = std::to_string(nobody->pw_gid);
      EXPECT_EQ(status["Gid"], gid + "\t" + gid + "\t" + gid + "\t" + gid) << pid;
      EXPECT_EQ(status["Groups"], gid) << pid;
    }
  }
  // The sandboxed snapshot helper wrote a snapshot the workers could map.
  EXPECT_EQ(server.countLines("snapshot unusable"), 0u) << server.output();
}

TEST(SandboxTest, WorkersHaveTheirOwnNamespacesWhereTheKernelAllows) {
  SKIP_UNLESS_SANDBOX_USABLE();
  ReadableHello hello;
  ServerProcess server(hello.path(), {"--workers", "1", "--sandbox", "on"});
  auto pids = readyWorkers(server, 1);
  ASSERT_EQ(pids.size(), 1u);
  auto line = server.waitForLine(
      [](const std::string& l) { return l.find("msg=\"worker sandbox\"") != std::string::npos; });
  ASSERT_TRUE(line);
  std::string granted = logField(*line, "namespaces");
  if (server.countLines("the kernel refused part of it") == 0) {
    // Nothing refused (a container's seccomp profile may refuse some): all five, as root or
    // with unprivileged user namespaces.
    EXPECT_EQ(granted, "user,pid,net,ipc,mount") << *line;
  }
  const std::pair<const char*, const char*> kinds[] = {
      {"user", "user"}, {"pid", "pid"}, {"net", "net"}, {"ipc", "ipc"}, {"mount", "mnt"}};
  std::string supervisorNs = "/proc/" + std::to_string(server.pid()) + "/ns/";
  std::string workerNs = "/proc/" + std::to_string(pids[0]) + "/ns/";
  for (auto [name, file] : kinds) {
    bool expected = granted.find(name) != std::string::npos;
    std::string ours = link(supervisorNs + file);
    std::string theirs = link(workerNs + file);
    ASSERT_FALSE(theirs.empty()) << file;
    EXPECT_EQ(ours != theirs, expected) << name << ": " << ours << " vs " << theirs;
  }
  // No network in its namespace: only a loopback interface, down.
  if (granted.find("net") != std::string::npos) {
    std::ifstream dev("/proc/" + std::to_string(pids[0]) + "/net/dev");
    std::string all((std::istreambuf_iterator<char>(dev)), {});
    EXPECT_EQ(all.find("eth"), std::string::npos) << all;
  }
}

TEST(SandboxTest, WorkersInheritOnlyStdioAndTheirChannel) {
  SKIP_UNLESS_SANDBOX_USABLE();
  // A descriptor the launching shell leaves open (no close-on-exec): the supervisor inherits
  // it, its workers must not.
  char path[] = "/tmp/isolated-sandbox-marker-XXXXXX";
  UniqueFd marker(mkstemp(path));
  ASSERT_TRUE(marker.valid());
  ::unlink(path);
  std::string markerTarget = link("/proc/self/fd/" + std::to_string(marker.get()));
  ReadableHello hello;
  ServerProcess server(hello.path(), {"--workers", "2", "--sandbox", "on"});
  auto pids = readyWorkers(server, 2);
  marker.reset();

  bool supervisorHasIt = false;
  for (const auto& [fd, target] : openFds(server.pid())) {
    supervisorHasIt |= target == markerTarget;
  }
  ASSERT_TRUE(supervisorHasIt) << "the test's descriptor did not reach the supervisor";

  for (pid_t pid : pids) {
    auto fds = openFds(pid);
    ASSERT_FALSE(fds.empty()) << pid;
    ASSERT_TRUE(fds.count(3)) << pid;
    EXPECT_TRUE(fds[3].starts_with("socket:")) << fds[3];
    for (const auto& [fd, target] : fds) {
      EXPECT_NE(target, markerTarget) << "worker " << pid << " fd " << fd;
      if (fd <= 3) continue;
      // Anything else the worker made itself after exec: its event loop (epoll, eventfd,
      // timerfd, its signal pipe), or a file it is reading at that moment (a script, OpenSSL's
      // configuration as the crypto library starts): never a socket, never the marker.
      EXPECT_FALSE(target.starts_with("socket:"))
          << "worker " << pid << " fd " << fd << " -> " << target;
    }
  }
}

TEST(SandboxTest, SandboxOffKeepsTheSupervisorsIdentityButStillClosesDescriptors) {
  ServerProcess server(kExamples + "/hello.js", {"--workers", "1", "--sandbox", "off"});
  auto pids = readyWorkers(server, 1);
  ASSERT_EQ(pids.size(), 1u);
  auto status = procStatus(pids[0]);
  EXPECT_EQ(status["Seccomp"], "0");
  EXPECT_EQ(status["Uid"].substr(0, status["Uid"].find('\t')), std::to_string(geteuid()));
  EXPECT_EQ(link("/proc/" + std::to_string(pids[0]) + "/ns/net"),
            link("/proc/" + std::to_string(server.pid()) + "/ns/net"));
  for (const auto& [fd, target] : openFds(pids[0])) {
    if (fd > 3) {
      EXPECT_FALSE(target.starts_with("socket:")) << fd << " -> " << target;
    }
  }
  EXPECT_GE(server.countLines("worker sandbox off"), 1u);
}

TEST(SandboxTest, ScriptTheWorkerUserCannotReadFailsAtStart) {
  SKIP_UNLESS_SANDBOX_USABLE();
  if (geteuid() != 0) GTEST_SKIP() << "needs root: as non-root the workers keep the user";
  char dir[] = "/tmp/isolated-sandbox-private-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);  // mode 0700, owned by root
  std::string script = std::string(dir) + "/app.js";
  std::filesystem::copy_file(kExamples + "/hello.js", script);
  // The sandbox is asked for explicitly: the harness would otherwise turn it off for a script
  // its user cannot read.
  ServerProcess server(script, {"--workers", "1", "--sandbox", "on"});
  auto exit = server.waitExit();
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(exit);
  EXPECT_TRUE(WIFEXITED(*exit) && WEXITSTATUS(*exit) == 1) << server.output();
  EXPECT_NE(server.output().find("the worker user nobody cannot read"), std::string::npos)
      << server.output();
}

TEST(SandboxTest, UnknownUserIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: --user is refused as non-root anyway";
  ServerProcess server(kExamples + "/hello.js",
                       {"--workers", "1", "--user", "no-such-user-isolated"});
  auto exit = server.waitExit();
  ASSERT_TRUE(exit);
  EXPECT_TRUE(WIFEXITED(*exit) && WEXITSTATUS(*exit) == 1) << server.output();
  EXPECT_NE(server.output().find("no such user 'no-such-user-isolated'"), std::string::npos)
      << server.output();
}

}  // namespace
}  // namespace isolated::test
