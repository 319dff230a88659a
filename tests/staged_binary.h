// The server binary where the sandbox's user can run it.
//
// Sandboxed workers exec the supervisor's own binary as `nobody` when the tests run as root, so a
// checkout under a private directory (/root/..., mode 0700) could not run them, and the sandbox's
// tests would skip. Such a test process stages the binary instead: it links the binary and the
// shared libraries of the build tree's private libnode (found through the binary's
// $ORIGIN-relative RUNPATH, see CMAKE_BUILD_RPATH_USE_ORIGIN) into a directory under /tmp that
// everyone can reach, with the same layout. Hard links where the file system allows (no copy),
// copies otherwise.
#pragma once

#include <filesystem>
#include <string>

namespace isolated::test {

// Whether a user other than the owner can reach `path` and read (and, with `execute`, run) it:
// every directory on the way lets others through.
bool reachableByOthers(const std::filesystem::path& path, bool execute);

// Links (or copies) ISOLATED_BINARY and the private libnode beside it into `dir` (which exists),
// as `dir`/isolated. Returns the new binary's path, or "" when a file could not be placed.
std::string stageBinary(const std::filesystem::path& dir);

// The binary the tests' servers run: ISOLATED_BINARY when the sandbox's user can run it (or the
// tests do not run as root); else a copy staged once per test process in a directory under /tmp
// (removed when the process exits); "" when staging failed.
const std::string& serverBinary();

}  // namespace isolated::test
