// Origin: spawning tests/fetch_origin.py and reading the port it announces.
#include "origin_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace isolated::test {

Origin::Origin(std::vector<std::string> extra) {
  std::vector<std::string> argv = {"python3", FETCH_ORIGIN_SCRIPT};
  argv.insert(argv.end(), extra.begin(), extra.end());
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return;
  pid_ = fork();
  if (pid_ == 0) {
    dup2(fds[1], 1);
    std::vector<char*> cargv;
    for (auto& a : argv)
      cargv.push_back(a.data());
    cargv.push_back(nullptr);
    execvp("python3", cargv.data());
    _exit(127);
  }
  close(fds[1]);
  // The first line is "PORT n"; reading blocks until the server listens (or EOF if it died).
  std::string line;
  char c;
  while (read(fds[0], &c, 1) == 1 && c != '\n')
    line += c;
  close(fds[0]);
  if (line.rfind("PORT ", 0) == 0) port_ = static_cast<uint16_t>(std::stoi(line.substr(5)));
}

Origin::~Origin() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
}

}  // namespace isolated::test
