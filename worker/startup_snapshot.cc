// Loading and validating startup snapshots: see startup_snapshot.h.
#include "worker/startup_snapshot.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "common/unique_fd.h"
#include "worker/native_tables.h"

namespace isolated::worker {

StartupSnapshot::StartupSnapshot(SnapshotContents contents, const char* data, size_t size,
                                 void* mapping)
    : contents_(contents),
      blob_{data, static_cast<int>(size)},
      mapping_(mapping),
      mappingSize_(size),
      references_(worker::externalReferences()) {}

StartupSnapshot::~StartupSnapshot() {
  if (mapping_ != nullptr) munmap(mapping_, mappingSize_);
}

std::unique_ptr<StartupSnapshot> StartupSnapshot::builtIn(std::string& whyNot) {
  if (kBuiltinsSnapshot.empty()) {
    whyNot = "this binary was built without a built-ins snapshot";
    return nullptr;
  }
  std::unique_ptr<StartupSnapshot> snapshot(new StartupSnapshot(
      SnapshotContents::kBuiltins, kBuiltinsSnapshot.data(), kBuiltinsSnapshot.size(), nullptr));
  if (!snapshot->blob_.IsValid()) {
    whyNot = "V8 " + std::string(v8::V8::GetVersion()) +
             " rejects the embedded built-ins snapshot (built by another V8 version)";
    return nullptr;
  }
  return snapshot;
}

std::unique_ptr<StartupSnapshot> StartupSnapshot::mapFile(const std::string& path,
                                                          std::string& whyNot) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (!fd || fstat(fd.get(), &st) != 0) {
    whyNot = "cannot open " + path + ": " + std::strerror(errno);
    return nullptr;
  }
  // A real blob is hundreds of kilobytes; V8 reads its header without checking the size.
  if (st.st_size < 4096 || st.st_size > INT_MAX) {
    whyNot = path + " is too small or too large to be a snapshot";
    return nullptr;
  }
  auto size = static_cast<size_t>(st.st_size);
  void* mapping = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (mapping == MAP_FAILED) {
    whyNot = "cannot map " + path + ": " + std::strerror(errno);
    return nullptr;
  }
  std::unique_ptr<StartupSnapshot> snapshot(new StartupSnapshot(
      SnapshotContents::kBuiltinsAndScript, static_cast<const char*>(mapping), size, mapping));
  if (!snapshot->blob_.IsValid()) {
    whyNot = path + " is not a snapshot this V8 accepts";
    return nullptr;
  }
  return snapshot;
}

}  // namespace isolated::worker
