// Staging the server binary where the sandbox's user can run it: see staged_binary.h.
#include "staged_binary.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <system_error>

namespace isolated::test {

namespace fs = std::filesystem;

namespace {

// Places `from` at `root`/`relative`: a hard link, or a copy across file systems; symlinks as
// symlinks. The directories it creates below `root` let everyone through (whatever the umask);
// `root` itself keeps its mode.
bool place(const fs::path& from, const fs::path& root, const fs::path& relative) {
  const fs::path to = root / relative;
  std::error_code ec;
  fs::create_directories(to.parent_path(), ec);
  if (ec) return false;
  for (fs::path dir = relative.parent_path(); !dir.empty(); dir = dir.parent_path()) {
    fs::permissions(root / dir, fs::perms(0755), ec);
    if (ec) return false;
  }
  if (fs::is_symlink(from, ec)) {
    fs::copy_symlink(from, to, ec);
    return !ec;
  }
  fs::create_hard_link(from, to, ec);
  if (ec) fs::copy_file(from, to, ec);
  return !ec;
}

// The directory staged by serverBinary(), removed when the test process exits. A test process
// stages at most once: every server it starts runs the same binary.
class StagedDirectory {
 public:
  StagedDirectory() {
    char pattern[] = "/tmp/isolated-staged-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) return;
    dir_ = pattern;
    std::error_code ec;
    fs::permissions(dir_, fs::perms(0755), ec);
    if (!ec) binary_ = stageBinary(dir_);
  }
  ~StagedDirectory() {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }
  StagedDirectory(const StagedDirectory&) = delete;
  StagedDirectory& operator=(const StagedDirectory&) = delete;

  const std::string& binary() const { return binary_; }

 private:
  std::string dir_;
  std::string binary_;
};

}  // namespace

bool reachableByOthers(const fs::path& path, bool execute) {
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec);
  if (ec) return false;
  struct stat st {};
  mode_t wanted = execute ? (S_IROTH | S_IXOTH) : S_IROTH;
  if (::stat(absolute.c_str(), &st) != 0 || (st.st_mode & wanted) != wanted) return false;
  for (auto dir = absolute.parent_path(); !dir.empty(); dir = dir.parent_path()) {
    if (::stat(dir.c_str(), &st) != 0 || (st.st_mode & S_IXOTH) == 0) return false;
    if (dir == dir.root_path()) break;
  }
  return true;
}

std::string stageBinary(const fs::path& dir) {
  const fs::path binary = ISOLATED_BINARY;
  if (!place(binary, dir, "isolated")) return "";
  // The private libnode (cmake/FindV8.cmake) lives in the build tree's _deps/; its shared
  // libraries go to the same place relative to the copy, where the RUNPATH looks.
  const fs::path deps = binary.parent_path() / "_deps";
  std::error_code ec;
  if (fs::is_directory(deps, ec)) {
    for (auto it = fs::recursive_directory_iterator(deps, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (name.find(".so") == std::string::npos || it->is_directory(ec)) continue;
      if (!place(it->path(), dir, it->path().lexically_relative(binary.parent_path()))) return "";
    }
  }
  return (dir / "isolated").string();
}

const std::string& serverBinary() {
  static const std::string kDirect = ISOLATED_BINARY;
  static const bool kDirectRuns = ::geteuid() != 0 || reachableByOthers(kDirect, true);
  if (kDirectRuns) return kDirect;
  static const StagedDirectory staged;
  return staged.binary();
}

}  // namespace isolated::test
