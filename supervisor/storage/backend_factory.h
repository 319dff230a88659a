// Opens the backend a StorageBindingSpec names: SQLite, a directory or PostgreSQL.
#pragma once

#include <chrono>
#include <memory>

#include "common/storage_bindings.h"
#include "supervisor/storage/kv_store.h"
#include "supervisor/storage/object_store.h"
#include "supervisor/storage/sql_database.h"

namespace isolated::storage {

// Exactly one member is set, matching spec.kind.
struct Backend {
  std::unique_ptr<KvStore> kv;
  std::unique_ptr<SqlDatabase> sql;
  std::unique_ptr<ObjectStore> objects;
};

// Opens local files at once (a bad path fails here, at start-up); PostgreSQL connects on first
// use, so a server can start while its database is down. `pgTimeout` bounds every PostgreSQL
// operation. Throws StorageError.
Backend openBackend(const StorageBindingSpec& spec, std::chrono::milliseconds pgTimeout);

}  // namespace isolated::storage
