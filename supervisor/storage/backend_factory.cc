// Backend selection by URL scheme (parsed into StorageBindingSpec by common/storage_bindings).
#include "supervisor/storage/backend_factory.h"

#include "supervisor/storage/file_object_store.h"
#include "supervisor/storage/pg_database.h"
#include "supervisor/storage/pg_kv_store.h"
#include "supervisor/storage/sqlite_database.h"
#include "supervisor/storage/sqlite_kv_store.h"

namespace isolated::storage {

Backend openBackend(const StorageBindingSpec& spec, std::chrono::milliseconds pgTimeout) {
  Backend backend;
  switch (spec.kind) {
    case StorageKind::kKv:
      if (spec.backend == StorageBackend::kPostgres) {
        backend.kv = std::make_unique<PgKvStore>(spec.location, spec.name, pgTimeout);
      } else {
        backend.kv = std::make_unique<SqliteKvStore>(spec.location, spec.name);
      }
      break;
    case StorageKind::kDatabase:
      if (spec.backend == StorageBackend::kPostgres) {
        backend.sql = std::make_unique<PgDatabase>(spec.location, pgTimeout);
      } else {
        backend.sql = std::make_unique<SqliteDatabase>(spec.location);
      }
      break;
    case StorageKind::kStorage:
      backend.objects = std::make_unique<FileObjectStore>(spec.location);
      break;
  }
  return backend;
}

}  // namespace isolated::storage
