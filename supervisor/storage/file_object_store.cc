// Objects as files: safe key walking with openat(O_NOFOLLOW), atomic writes, sidecar metadata.
#include "supervisor/storage/file_object_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <mutex>

namespace isolated::storage {

namespace {

constexpr const char* kMetaDir = ".isolated-meta";
constexpr int kMaxDepth = 64;

std::string errnoText(int error) {
  return std::strerror(error);
}

// The key's components, or a StorageError saying why the key is not a safe relative path.
std::vector<std::string> components(const std::string& key) {
  checkObjectKey(key);
  if (key.front() == '/') throw StorageError("R2: the key \"" + key + "\" is an absolute path");
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t end = key.find('/', start);
    std::string part = key.substr(start, end == std::string::npos ? end : end - start);
    if (part.empty() || part == "." || part == "..") {
      throw StorageError("R2: the key \"" + key +
                         "\" is not a safe relative path (empty, \".\" or \"..\" component)");
    }
    if (part.size() > NAME_MAX) {
      throw StorageError("R2: a component of the key is longer than " + std::to_string(NAME_MAX) +
                         " bytes");
    }
    parts.push_back(std::move(part));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (parts.front() == kMetaDir) {
    throw StorageError(std::string("R2: keys under ") + kMetaDir + "/ are reserved");
  }
  return parts;
}

// Opens the directory that holds the last component, walking from `base` without following
// symlinks; creates missing directories when `create`. An invalid fd when a directory is
// missing and !create.
UniqueFd openParent(int base, const std::vector<std::string>& parts, bool create,
                    const std::string& key) {
  UniqueFd current(::dup(base));
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    int fd =
        ::openat(current.get(), parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
      if (::mkdirat(current.get(), parts[i].c_str(), 0755) != 0 && errno != EEXIST) {
        throw StorageError("R2: cannot create the folder for \"" + key + "\": " + errnoText(errno));
      }
      fd = ::openat(current.get(), parts[i].c_str(),
                    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0 && (errno == ELOOP || errno == ENOTDIR)) {
      struct stat st {};
      if (::fstatat(current.get(), parts[i].c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          S_ISLNK(st.st_mode)) {
        errno = ELOOP;
      }
    }
    if (fd < 0) {
      if (errno == ENOENT && !create) return UniqueFd();
      if (errno == ELOOP) {
        throw StorageError("R2: the key \"" + key + "\" passes through a symbolic link");
      }
      if (errno == ENOTDIR) {
        if (!create) return UniqueFd();
        throw StorageError("R2: the key \"" + key + "\" is under \"" + parts[i] +
                           "\", which is an object, not a folder");
      }
      throw StorageError("R2: cannot open the folder of \"" + key + "\": " + errnoText(errno));
    }
    current.reset(fd);
  }
  return current;
}

std::string md5Hex(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &size, EVP_md5(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 15]);
  }
  return hex;
}

std::string readAll(int fd) {
  std::string out;
  char buffer[65536];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw StorageError("R2: read failed: " + errnoText(errno));
    if (n == 0) return out;
    out.append(buffer, static_cast<size_t>(n));
  }
}

UniqueFd openDirAt(int base, const char* name, bool create) {
  if (create && ::mkdirat(base, name, 0755) != 0 && errno != EEXIST) return UniqueFd();
  return UniqueFd(::openat(base, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

FileObjectStore::FileObjectStore(const std::string& dir) : dir_(dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  root_.reset(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root_)
    throw StorageError("cannot open the storage directory " + dir + ": " + errnoText(errno));
  UniqueFd meta = openDirAt(root_.get(), kMetaDir, true);
  if (meta) metaRoot_ = openDirAt(meta.get(), "objects", true);
  if (meta) tmp_ = openDirAt(meta.get(), "tmp", true);
  if (!metaRoot_ || !tmp_) {
    throw StorageError("cannot create " + dir + "/" + kMetaDir + ": " + errnoText(errno));
  }
}

void FileObjectStore::writeAtomically(int dirFd, const std::string& leaf,
                                      const std::string& bytes) {
  std::string name = "put-" + std::to_string(::getpid()) + "-" + std::to_string(++tmpCounter_);
  UniqueFd fd(::openat(tmp_.get(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd) throw StorageError("R2: cannot create a temporary file: " + errnoText(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int saved = errno;
      ::unlinkat(tmp_.get(), name.c_str(), 0);
      throw StorageError("R2: write failed: " + errnoText(saved));
    }
    done += static_cast<size_t>(n);
  }
  ::fdatasync(fd.get());
  if (::renameat(tmp_.get(), name.c_str(), dirFd, leaf.c_str()) != 0) {
    int saved = errno;
    ::unlinkat(tmp_.get(), name.c_str(), 0);
    if (saved == EISDIR) {
      throw StorageError("R2: \"" + leaf + "\" is a folder of other keys, not an object");
    }
    throw StorageError("R2: cannot store \"" + leaf + "\": " + errnoText(saved));
  }
}

ObjectInfo FileObjectStore::put(const std::string& key, const std::string& body,
                                const nlohmann::json& httpMetadata,
                                const nlohmann::json& customMetadata) {
  auto parts = components(key);
  checkObjectMetadata(httpMetadata, customMetadata);
  if (body.size() > kObjectMaxValueBytes) {
    throw StorageError("R2: the object is " + std::to_string(body.size()) + " bytes; at most " +
                       std::to_string(kObjectMaxValueBytes >> 20) + " MiB here");
  }
  ObjectInfo info{key, body.size(), md5Hex(body), nowMs(), httpMetadata, customMetadata};
  nlohmann::json sidecar = {{"size", info.size},
                            {"etag", info.etag},
                            {"uploaded", info.uploadedMs},
                            {"httpMetadata", httpMetadata},
                            {"customMetadata", customMetadata}};
  std::unique_lock guard(lock_);
  UniqueFd dataDir = openParent(root_.get(), parts, true, key);
  UniqueFd metaDir = openParent(metaRoot_.get(), parts, true, key);
  writeAtomically(dataDir.get(), parts.back(), body);
  writeAtomically(metaDir.get(), parts.back() + ".meta", sidecar.dump());
  return info;
}

std::optional<ObjectInfo> FileObjectStore::readInfo(const std::string& key, int dataFd) {
  auto parts = components(key);
  struct stat st {};
  if (::fstat(dataFd, &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  ObjectInfo info;
  info.key = key;
  info.size = static_cast<uint64_t>(st.st_size);
  info.uploadedMs = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
  UniqueFd metaDir = openParent(metaRoot_.get(), parts, false, key);
  if (metaDir) {
    std::string leaf = parts.back() + ".meta";
    UniqueFd meta(::openat(metaDir.get(), leaf.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (meta) {
      auto sidecar = nlohmann::json::parse(readAll(meta.get()), nullptr, false);
      if (sidecar.is_object() && sidecar.value("size", uint64_t{0}) == info.size) {
        info.etag = sidecar.value("etag", "");
        info.uploadedMs = sidecar.value("uploaded", info.uploadedMs);
        info.httpMetadata = sidecar.value("httpMetadata", nlohmann::json::object());
        info.customMetadata = sidecar.value("customMetadata", nlohmann::json::object());
      }
    }
  }
  if (info.etag.empty()) {
    // No sidecar (or a stale one): a file put in the tree by hand. Its etag is computed.
    ::lseek(dataFd, 0, SEEK_SET);
    info.etag = md5Hex(readAll(dataFd));
  }
  return info;
}

std::optional<std::pair<ObjectInfo, std::string>> FileObjectStore::get(const std::string& key) {
  auto parts = components(key);
  std::shared_lock guard(lock_);
  UniqueFd dir = openParent(root_.get(), parts, false, key);
  if (!dir) return std::nullopt;
  UniqueFd fd(::openat(dir.get(), parts.back().c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    if (errno == ELOOP) throw StorageError("R2: the key \"" + key + "\" is a symbolic link");
    return std::nullopt;
  }
  auto info = readInfo(key, fd.get());
  if (!info) return std::nullopt;
  ::lseek(fd.get(), 0, SEEK_SET);
  return std::make_pair(std::move(*info), readAll(fd.get()));
}

std::optional<ObjectInfo> FileObjectStore::head(const std::string& key) {
  auto parts = components(key);
  std::shared_lock guard(lock_);
  UniqueFd dir = openParent(root_.get(), parts, false, key);
  if (!dir) return std::nullopt;
  UniqueFd fd(::openat(dir.get(), parts.back().c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    if (errno == ELOOP) throw StorageError("R2: the key \"" + key + "\" is a symbolic link");
    return std::nullopt;
  }
  return readInfo(key, fd.get());
}

void FileObjectStore::remove(const std::vector<std::string>& keys) {
  std::vector<std::vector<std::string>> all;
  for (const auto& key : keys)
    all.push_back(components(key));
  std::unique_lock guard(lock_);
  for (size_t i = 0; i < keys.size(); ++i) {
    const auto& parts = all[i];
    if (UniqueFd dir = openParent(root_.get(), parts, false, keys[i])) {
      struct stat st {};
      if (::fstatat(dir.get(), parts.back().c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          S_ISREG(st.st_mode)) {
        ::unlinkat(dir.get(), parts.back().c_str(), 0);
      }
    }
    if (UniqueFd meta = openParent(metaRoot_.get(), parts, false, keys[i])) {
      ::unlinkat(meta.get(), (parts.back() + ".meta").c_str(), 0);
    }
  }
}

void FileObjectStore::collect(int dirFd, const std::string& path, std::vector<ObjectInfo>& out,
                              int depth) {
  if (depth > kMaxDepth) return;
  // A new open file description (not dup(), which would share the read offset with dirFd).
  UniqueFd copy(::openat(dirFd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!copy) return;
  DIR* raw = ::fdopendir(copy.release());
  if (raw == nullptr) return;
  std::unique_ptr<DIR, int (*)(DIR*)> dir(raw, ::closedir);
  while (dirent* entry = ::readdir(dir.get())) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    if (depth == 0 && name == kMetaDir) continue;
    struct stat st {};
    if (::fstatat(dirFd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISREG(st.st_mode)) {
      ObjectInfo info;
      info.key = path + name;
      out.push_back(std::move(info));
    } else if (S_ISDIR(st.st_mode)) {
      UniqueFd sub = openDirAt(dirFd, name.c_str(), false);
      if (sub) collect(sub.get(), path + name + "/", out, depth + 1);
    }
  }
}

ObjectList FileObjectStore::list(const std::string& prefix, uint32_t limit,
                                 const std::string& cursor, const std::string& delimiter) {
  std::shared_lock guard(lock_);
  std::vector<ObjectInfo> all;
  collect(root_.get(), "", all, 0);
  std::sort(all.begin(), all.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  ObjectList list = rollUp(std::move(all), prefix, limit, cursor, delimiter);
  for (auto& object : list.objects) {
    auto parts = components(object.key);
    UniqueFd dir = openParent(root_.get(), parts, false, object.key);
    if (!dir) continue;
    UniqueFd fd(::openat(dir.get(), parts.back().c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) continue;
    if (auto info = readInfo(object.key, fd.get())) object = std::move(*info);
  }
  return list;
}

}  // namespace isolated::storage
