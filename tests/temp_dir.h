// A temporary directory for tests that write files, removed with its contents when destroyed.
// It is readable by every user: sandboxed workers run as another user (`nobody`) and read the
// scripts a test writes here.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace isolated {

class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "isolated-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
    std::error_code ec;
    std::filesystem::permissions(
        path_,
        std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
            std::filesystem::perms::group_exec | std::filesystem::perms::others_read |
            std::filesystem::perms::others_exec,
        ec);
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  // Writes `text` to `relative` (creating directories) and returns the absolute path. The file
  // is written beside and renamed into place, so a server reading it never sees half of it.
  std::string write(const std::string& relative, const std::string& text) const {
    std::filesystem::path p = path_ / relative;
    std::filesystem::create_directories(p.parent_path());
    std::filesystem::path partial = p;
    partial += ".partial";
    std::ofstream(partial) << text;
    std::filesystem::rename(partial, p);
    return p.string();
  }

 private:
  std::filesystem::path path_;
};

}  // namespace isolated
