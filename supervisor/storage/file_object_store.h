// Object storage in a directory (`file:DIR`): the object `a/b.txt` is the file `DIR/a/b.txt`,
// so the tree can be served, backed up or inspected with ordinary tools. What R2 keeps beside
// an object (etag, upload time, HTTP and custom metadata) lives in a sidecar tree,
// `DIR/.isolated-meta/objects/<key>.meta` (JSON), outside the keys a script can name; an
// object with no sidecar (a file put there by hand) is reported with its size and mtime.
//
// Keys must be relative paths of non-empty components other than `.` and `..`, without NUL,
// a leading `/` or `.isolated-meta` as their first component; every component is opened with
// O_NOFOLLOW relative to the directory above it, so a symlink in the tree is refused rather
// than followed out of DIR. A key cannot name both an object and a "folder" of other keys
// (`a` and `a/b`): the file system forbids it and put() says so.
//
// Writes are atomic: the body and the sidecar are written to temporary files under
// `DIR/.isolated-meta/tmp`, synced, and renamed into place, so a reader sees the old object or
// the new one, never a torn one. Within this process a reader-writer lock also keeps a body
// and its sidecar consistent with each other.
// Threading: safe from several threads (see ObjectStore).
#pragma once

#include <shared_mutex>

#include "common/unique_fd.h"
#include "supervisor/storage/object_store.h"

namespace isolated::storage {

class FileObjectStore : public ObjectStore {
 public:
  // Creates DIR (and the sidecar area) when missing; throws StorageError when it cannot.
  explicit FileObjectStore(const std::string& dir);

  ObjectInfo put(const std::string& key, const std::string& body,
                 const nlohmann::json& httpMetadata, const nlohmann::json& customMetadata) override;
  std::optional<std::pair<ObjectInfo, std::string>> get(const std::string& key) override;
  std::optional<ObjectInfo> head(const std::string& key) override;
  void remove(const std::vector<std::string>& keys) override;
  ObjectList list(const std::string& prefix, uint32_t limit, const std::string& cursor,
                  const std::string& delimiter) override;

 private:
  std::optional<ObjectInfo> readInfo(const std::string& key, int dataFd);
  // Writes `bytes` to a new temporary file and renames it to `leaf` in `dirFd`.
  void writeAtomically(int dirFd, const std::string& leaf, const std::string& bytes);
  void collect(int dirFd, const std::string& path, std::vector<ObjectInfo>& out, int depth);

  std::string dir_;
  UniqueFd root_;
  UniqueFd metaRoot_;  // DIR/.isolated-meta/objects
  UniqueFd tmp_;       // DIR/.isolated-meta/tmp
  std::shared_mutex lock_;
  // Names temporary files; only touched under the exclusive lock.
  uint64_t tmpCounter_ = 0;
};

}  // namespace isolated::storage
