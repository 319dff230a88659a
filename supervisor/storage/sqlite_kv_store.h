// KV on SQLite: one table, isolated_kv(namespace, key, value, metadata, expiration), in a file
// shared by every binding that names it (the binding's name is the namespace).
// Expired rows are never returned: reads filter on expiration, and a get() that finds one
// deletes it; list() deletes up to a page of expired rows under the prefix.
// Threading: see KvStore; each call takes a connection of its own from the pool.
#pragma once

#include "supervisor/storage/kv_store.h"
#include "supervisor/storage/sqlite_handle.h"

namespace isolated::storage {

class SqliteKvStore : public KvStore {
 public:
  // Opens (creating) the file and the table; throws StorageError when it cannot.
  SqliteKvStore(const std::string& path, std::string ns);

  std::optional<KvEntry> get(const std::string& key, int64_t now) override;
  void put(const std::string& key, const KvEntry& entry, int64_t now) override;
  void remove(const std::string& key) override;
  KvList list(const std::string& prefix, uint32_t limit, const std::string& cursor,
              int64_t now) override;

 private:
  std::string ns_;
  SqlitePool pool_;
};

}  // namespace isolated::storage
