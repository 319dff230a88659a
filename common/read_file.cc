// Whole-file reads.
#include "common/read_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>

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

bool fileHolds(const std::string& path, std::string_view text) {
  long opened = trySyscall(
      [&] { return ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY); });
  if (opened < 0) return false;
  UniqueFd fd(static_cast<int>(opened));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<uint64_t>(st.st_size) != text.size()) {
    return false;
  }
  char buffer[65536];
  size_t compared = 0;
  for (;;) {
    long n = trySyscall([&] { return ::read(fd.get(), buffer, sizeof buffer); });
    if (n < 0) return false;
    if (n == 0) return compared == text.size();
    size_t got = static_cast<size_t>(n);
    // Longer than `text` (it grew since the fstat): not the same.
    if (got > text.size() - compared) return false;
    if (text.compare(compared, got, buffer, got) != 0) return false;
    compared += got;
  }
}

}  // namespace isolated
