// KV on PostgreSQL: one table, isolated_kv(namespace, key bytea, value bytea, metadata,
// expiration), shared by every server that names the same database and binding, so servers see
// each other's writes at once. Expiry as SqliteKvStore: filtered on read, deleted lazily.
// The table is created at the first connection (CREATE TABLE IF NOT EXISTS); a server that
// starts while PostgreSQL is down creates it on its first successful call.
// Threading: see KvStore; connections come from a PgPool with a deadline on every call.
#pragma once

#include <atomic>

#include "supervisor/storage/kv_store.h"
#include "supervisor/storage/pg_connection.h"

namespace isolated::storage {

class PgKvStore : public KvStore {
 public:
  PgKvStore(std::string url, std::string ns, std::chrono::milliseconds timeout);

  std::optional<KvEntry> get(const std::string& key, int64_t now) override;
  void put(const std::string& key, const KvEntry& entry, int64_t now) override;
  void remove(const std::string& key) override;
  KvList list(const std::string& prefix, uint32_t limit, const std::string& cursor,
              int64_t now) override;

 private:
  PgPool::Lease connect();

  std::string ns_;
  PgPool pool_;
  std::atomic<bool> schemaReady_{false};
};

}  // namespace isolated::storage
