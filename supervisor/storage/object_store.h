// The object storage binding's backend interface (the core of Cloudflare R2's API).
//
// Keys are 1..kObjectMaxKeyBytes of UTF-8; an implementation may refuse more (the directory
// backend refuses keys that are not safe relative paths). httpMetadata and customMetadata are
// JSON objects of strings, kept with the object and returned by get/head/list.
// Listing is in byte order of the keys; with a delimiter, keys that contain it after the
// prefix are rolled up into delimitedPrefixes (each once). The cursor is opaque (the last key
// or prefix returned) and resumes after it.
//
// Threading: implementations are safe to call from several threads at once; each call is
// synchronous. Errors throw StorageError.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "supervisor/storage/storage_error.h"

namespace isolated::storage {

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  std::string etag;        // hex MD5 of the body, as R2's for single-part uploads
  int64_t uploadedMs = 0;  // milliseconds since the Unix epoch
  nlohmann::json httpMetadata = nlohmann::json::object();
  nlohmann::json customMetadata = nlohmann::json::object();
};

struct ObjectList {
  std::vector<ObjectInfo> objects;
  std::vector<std::string> delimitedPrefixes;
  bool truncated = false;
  std::string cursor;  // empty when not truncated
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;
  virtual ObjectInfo put(const std::string& key, const std::string& body,
                         const nlohmann::json& httpMetadata,
                         const nlohmann::json& customMetadata) = 0;
  // The object and its body; nullopt when there is none.
  virtual std::optional<std::pair<ObjectInfo, std::string>> get(const std::string& key) = 0;
  virtual std::optional<ObjectInfo> head(const std::string& key) = 0;
  // Deleting a key that does not exist is not an error (as R2).
  virtual void remove(const std::vector<std::string>& keys) = 0;
  virtual ObjectList list(const std::string& prefix, uint32_t limit, const std::string& cursor,
                          const std::string& delimiter) = 0;
};

// Checks shared by every backend: the key's length and the metadata's shape and size.
void checkObjectKey(const std::string& key);
void checkObjectMetadata(const nlohmann::json& httpMetadata, const nlohmann::json& customMetadata);

// Applies list()'s prefix, cursor, delimiter and limit to every object of a store, given in
// byte order of their keys (for backends that enumerate everything, like the directory).
ObjectList rollUp(std::vector<ObjectInfo> sorted, const std::string& prefix, uint32_t limit,
                  const std::string& cursor, const std::string& delimiter);

}  // namespace isolated::storage
