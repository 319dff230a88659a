// KV on SQLite: prepared statements over one table, expiry enforced on every read.
#include "supervisor/storage/sqlite_kv_store.h"

namespace isolated::storage {

SqliteKvStore::SqliteKvStore(const std::string& path, std::string ns)
    : ns_(std::move(ns)), pool_(path, [](SqliteHandle& db) {
        db.exec(
            "CREATE TABLE IF NOT EXISTS isolated_kv ("
            " namespace TEXT NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL,"
            " metadata TEXT, expiration INTEGER NOT NULL DEFAULT 0,"
            " PRIMARY KEY (namespace, key)) WITHOUT ROWID");
      }) {}

std::optional<KvEntry> SqliteKvStore::get(const std::string& key, int64_t now) {
  checkKvKey(key);
  auto db = pool_.acquire();
  SqliteStatement select(*db,
                         "SELECT value, metadata, expiration FROM isolated_kv"
                         " WHERE namespace = ?1 AND key = ?2",
                         SqliteStatement::Cached{});
  select.bindText(1, ns_);
  select.bindBlob(2, key);
  if (!select.step()) return std::nullopt;
  int64_t expiration = select.columnInt(2);
  if (expiration != 0 && expiration <= now) {
    SqliteStatement erase(*db,
                          "DELETE FROM isolated_kv WHERE namespace = ?1 AND key = ?2"
                          " AND expiration != 0 AND expiration <= ?3",
                          SqliteStatement::Cached{});
    erase.bindText(1, ns_);
    erase.bindBlob(2, key);
    erase.bindInt(3, now);
    sqlite3_reset(select.get());
    erase.step();
    return std::nullopt;
  }
  return KvEntry{select.columnBytes(0), select.columnBytes(1), expiration};
}

void SqliteKvStore::put(const std::string& key, const KvEntry& entry, int64_t now) {
  checkKvKey(key);
  checkKvEntry(entry, now);
  auto db = pool_.acquire();
  SqliteStatement upsert(*db,
                         "INSERT INTO isolated_kv (namespace, key, value, metadata, expiration)"
                         " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (namespace, key) DO UPDATE"
                         " SET value = excluded.value, metadata = excluded.metadata,"
                         " expiration = excluded.expiration",
                         SqliteStatement::Cached{});
  upsert.bindText(1, ns_);
  upsert.bindBlob(2, key);
  upsert.bindBlob(3, entry.value);
  if (entry.metadata.empty()) {
    sqlite3_bind_null(upsert.get(), 4);
  } else {
    upsert.bindText(4, entry.metadata);
  }
  upsert.bindInt(5, entry.expiration);
  upsert.step();
}

void SqliteKvStore::remove(const std::string& key) {
  checkKvKey(key);
  auto db = pool_.acquire();
  SqliteStatement erase(*db, "DELETE FROM isolated_kv WHERE namespace = ?1 AND key = ?2",
                        SqliteStatement::Cached{});
  erase.bindText(1, ns_);
  erase.bindBlob(2, key);
  erase.step();
}

KvList SqliteKvStore::list(const std::string& prefix, uint32_t limit, const std::string& cursor,
                           int64_t now) {
  auto db = pool_.acquire();
  // Keys are BLOBs, compared bytewise; the primary key orders them and serves `key > cursor`.
  SqliteStatement select(*db,
                         "SELECT key, expiration, metadata FROM isolated_kv"
                         " WHERE namespace = ?1 AND key > ?2 AND substr(key, 1, ?3) = ?4"
                         " AND (expiration = 0 OR expiration > ?5) ORDER BY key LIMIT ?6",
                         SqliteStatement::Cached{});
  select.bindText(1, ns_);
  // Everything after the cursor; without one, every key (> the empty blob, which no key is).
  select.bindBlob(2, cursor);
  select.bindInt(3, static_cast<int64_t>(prefix.size()));
  select.bindBlob(4, prefix);
  select.bindInt(5, now);
  select.bindInt(6, static_cast<int64_t>(limit) + 1);
  KvList list;
  while (select.step()) {
    if (list.keys.size() == limit) {
      list.complete = false;
      list.cursor = list.keys.back().name;
      break;
    }
    list.keys.push_back({select.columnBytes(0), select.columnInt(1), select.columnBytes(2)});
  }
  sqlite3_reset(select.get());
  // Lazily drop what has expired under this prefix (bounded, so a list stays cheap).
  SqliteStatement sweep(*db,
                        "DELETE FROM isolated_kv WHERE namespace = ?1 AND key IN ("
                        " SELECT key FROM isolated_kv WHERE namespace = ?1"
                        " AND substr(key, 1, ?2) = ?3 AND expiration != 0 AND expiration <= ?4"
                        " LIMIT 100)",
                        SqliteStatement::Cached{});
  sweep.bindText(1, ns_);
  sweep.bindInt(2, static_cast<int64_t>(prefix.size()));
  sweep.bindBlob(3, prefix);
  sweep.bindInt(4, now);
  sweep.step();
  return list;
}

}  // namespace isolated::storage
