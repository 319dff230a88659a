// Whole-file reads.
#include "common/read_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/syscall.h"
#include "common/unique_fd.h"

namespace isolated {

std::optional<std::string> readFile(const std::string& path, std::string& error) {
  long opened = trySyscall([&] { return ::open(path.c_str(), O_RDONLY | O_CLOEXEC); });
  if (opened < 0) {
    error = "cannot read " + path + ": " + errnoText(static_cast<int>(-opened));
    return std::nullopt;
  }
  UniqueFd fd(static_cast<int>(opened));
  struct stat st {};
  if (::fstat(fd.get(), &st) == 0 && S_ISDIR(st.st_mode)) {
    error = "cannot read " + path + ": " + errnoText(EISDIR);
    return std::nullopt;
  }
  std::string content;
  char buffer[65536];
  for (;;) {
    long n = trySyscall([&] { return ::read(fd.get(), buffer, sizeof buffer); });
    if (n < 0) {
      error = "cannot read " + path + ": " + errnoText(static_cast<int>(-n));
      return std::nullopt;
    }
    if (n == 0) break;
    content.append(buffer, static_cast<size_t>(n));
  }
  return content;
}

}  // namespace isolated
