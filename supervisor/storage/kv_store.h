// The KV binding's backend interface (Cloudflare's KV API, without the JavaScript shapes).
//
// Keys are byte strings of 1..kKvMaxKeyBytes; values up to kKvMaxValueBytes; metadata is JSON
// text (empty: none) up to kKvMaxMetadataBytes. `expiration` is seconds since the Unix epoch,
// 0 for none. An entry whose expiration is <= `now` does not exist: it is never returned by
// get() or list() and is deleted lazily (by the read that finds it, or a later write).
// Listing is in byte order of the keys; the cursor is opaque to callers (here: the last key
// returned) and resumes after it.
//
// Threading: implementations are safe to call from several threads at once (the storage
// executor's pool); each call is synchronous and may block on disk or network. Errors throw
// StorageError.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "supervisor/storage/storage_error.h"

namespace isolated::storage {

struct KvEntry {
  std::string value;
  std::string metadata;  // JSON text, empty for none
  int64_t expiration = 0;
};

struct KvKey {
  std::string name;
  int64_t expiration = 0;
  std::string metadata;
};

struct KvList {
  std::vector<KvKey> keys;
  bool complete = true;
  std::string cursor;  // empty when complete
};

class KvStore {
 public:
  virtual ~KvStore() = default;
  virtual std::optional<KvEntry> get(const std::string& key, int64_t now) = 0;
  virtual void put(const std::string& key, const KvEntry& entry, int64_t now) = 0;
  virtual void remove(const std::string& key) = 0;
  // `limit` is 1..kKvMaxListLimit; `cursor` empty to start.
  virtual KvList list(const std::string& prefix, uint32_t limit, const std::string& cursor,
                      int64_t now) = 0;
};

// Checks shared by every backend (throw StorageError naming the limit).
void checkKvKey(const std::string& key);
void checkKvEntry(const KvEntry& entry, int64_t now);

}  // namespace isolated::storage
