// Test harness: shell commands and `isolated ctl` runs (shell_command.h).
#include "shell_command.h"

#include <sys/wait.h>

#include <cstdio>

#include "server_process.h"

namespace isolated::test {

CommandResult runShell(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0)
    result.out.append(buffer, n);
  int status = ::pclose(pipe);
  result.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

CommandResult runCtl(const ServerProcess& server, const std::string& args, const std::string& cwd) {
  std::string command =
      std::string(ISOLATED_BINARY) + " ctl --socket '" + server.controlSocket() + "' " + args;
  if (!cwd.empty()) command = "cd '" + cwd + "' && " + command;
  return runShell(command);
}

}  // namespace isolated::test
