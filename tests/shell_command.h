// Running a command of the test's own making through the shell, as an operator would type it:
// `isolated ctl ...` against a test server above all. Tests check the exit code and the text.
#pragma once

#include <string>

namespace isolated::test {

class ServerProcess;

struct CommandResult {
  int exitCode = -1;  // -1 when the command did not exit normally (a signal)
  std::string out;    // stdout and stderr, interleaved as written
};

// Runs COMMAND with /bin/sh, stderr merged into stdout; blocks until it exits.
CommandResult runShell(const std::string& command);

// `isolated ctl --socket SOCKET ARGS` against SERVER's control socket. ARGS are shell words as
// written (quote them yourself); CWD, when given, is the directory ctl runs in (relative paths).
CommandResult runCtl(const ServerProcess& server, const std::string& args,
                     const std::string& cwd = "");

}  // namespace isolated::test
