// KV on PostgreSQL: parameterised statements over one table, expiry enforced on every read.
#include "supervisor/storage/pg_kv_store.h"

#include <cstdlib>

namespace isolated::storage {

namespace {

PgParam text(const std::string& value) {
  return {value, false};
}
PgParam bytes(const std::string& value) {
  return {value, true};
}
PgParam integer(int64_t value) {
  return {std::to_string(value), false};
}

std::string field(PGresult* result, int row, int column) {
  return std::string(PQgetvalue(result, row, column),
                     static_cast<size_t>(PQgetlength(result, row, column)));
}

}  // namespace

PgKvStore::PgKvStore(std::string url, std::string ns, std::chrono::milliseconds timeout)
    : ns_(std::move(ns)), pool_(std::move(url), timeout) {}

PgPool::Lease PgKvStore::connect() {
  auto conn = pool_.acquire();
  if (!schemaReady_.load()) {
    try {
      conn->query(
          "CREATE TABLE IF NOT EXISTS isolated_kv (namespace text NOT NULL, key bytea NOT NULL,"
          " value bytea NOT NULL, metadata text, expiration bigint NOT NULL DEFAULT 0,"
          " PRIMARY KEY (namespace, key))",
          {}, pool_.deadline());
    } catch (const StorageError&) {
      // Two servers creating the table at once: one of them loses the race on the catalog.
      // The table exists either way; a real failure shows on the statement that follows.
    }
    schemaReady_ = true;
  }
  return conn;
}

std::optional<KvEntry> PgKvStore::get(const std::string& key, int64_t now) {
  checkKvKey(key);
  auto conn = connect();
  auto result = conn->query(
      "SELECT value, metadata, expiration FROM isolated_kv WHERE namespace = $1 AND key = $2",
      {text(ns_), bytes(key)}, pool_.deadline());
  if (PQntuples(result.get()) == 0) return std::nullopt;
  int64_t expiration = std::strtoll(PQgetvalue(result.get(), 0, 2), nullptr, 10);
  if (expiration != 0 && expiration <= now) {
    conn->query(
        "DELETE FROM isolated_kv WHERE namespace = $1 AND key = $2 AND expiration != 0"
        " AND expiration <= $3",
        {text(ns_), bytes(key), integer(now)}, pool_.deadline());
    return std::nullopt;
  }
  auto* value = PQgetvalue(result.get(), 0, 0);
  return KvEntry{pgDecodeBytea(value, static_cast<size_t>(PQgetlength(result.get(), 0, 0))),
                 field(result.get(), 0, 1), expiration};
}

void PgKvStore::put(const std::string& key, const KvEntry& entry, int64_t now) {
  checkKvKey(key);
  checkKvEntry(entry, now);
  auto conn = connect();
  PgParam metadata = entry.metadata.empty() ? PgParam{} : text(entry.metadata);
  conn->query(
      "INSERT INTO isolated_kv (namespace, key, value, metadata, expiration)"
      " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (namespace, key) DO UPDATE"
      " SET value = excluded.value, metadata = excluded.metadata,"
      " expiration = excluded.expiration",
      {text(ns_), bytes(key), bytes(entry.value), metadata, integer(entry.expiration)},
      pool_.deadline());
}

void PgKvStore::remove(const std::string& key) {
  checkKvKey(key);
  auto conn = connect();
  conn->query("DELETE FROM isolated_kv WHERE namespace = $1 AND key = $2", {text(ns_), bytes(key)},
              pool_.deadline());
}

KvList PgKvStore::list(const std::string& prefix, uint32_t limit, const std::string& cursor,
                       int64_t now) {
  auto conn = connect();
  auto result = conn->query(
      "SELECT key, expiration, metadata FROM isolated_kv WHERE namespace = $1 AND key > $2"
      " AND substring(key from 1 for $3) = $4 AND (expiration = 0 OR expiration > $5)"
      " ORDER BY key LIMIT $6",
      {text(ns_), bytes(cursor), integer(static_cast<int64_t>(prefix.size())), bytes(prefix),
       integer(now), integer(static_cast<int64_t>(limit) + 1)},
      pool_.deadline());
  KvList list;
  int rows = PQntuples(result.get());
  for (int row = 0; row < rows; ++row) {
    if (list.keys.size() == limit) {
      list.complete = false;
      list.cursor = list.keys.back().name;
      break;
    }
    auto* key = PQgetvalue(result.get(), row, 0);
    list.keys.push_back({pgDecodeBytea(key, static_cast<size_t>(PQgetlength(result.get(), row, 0))),
                         std::strtoll(PQgetvalue(result.get(), row, 1), nullptr, 10),
                         field(result.get(), row, 2)});
  }
  conn->query(
      "DELETE FROM isolated_kv WHERE namespace = $1 AND key IN (SELECT key FROM isolated_kv"
      " WHERE namespace = $1 AND substring(key from 1 for $2) = $3 AND expiration != 0"
      " AND expiration <= $4 LIMIT 100)",
      {text(ns_), integer(static_cast<int64_t>(prefix.size())), bytes(prefix), integer(now)},
      pool_.deadline());
  return list;
}

}  // namespace isolated::storage
