// Storage bindings as configured: `--kv NAME=URL`, `--database NAME=URL`, `--storage NAME=URL`.
// The URL chooses the backend (docs/bindings.md):
//   sqlite:PATH or a bare path   SQLite file (KV and databases)
//   file:DIR                     a directory of files (storage)
//   postgres://... postgresql://...  PostgreSQL (KV and databases)
// Plain data, parsed once; the supervisor opens the backends (supervisor/storage/).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace isolated {

enum class StorageKind { kKv, kDatabase, kStorage };
enum class StorageBackend { kSqlite, kDirectory, kPostgres };

struct StorageBindingSpec {
  std::string name;
  StorageKind kind = StorageKind::kKv;
  StorageBackend backend = StorageBackend::kSqlite;
  // The path (SQLite, directory; made absolute) or the whole PostgreSQL URL.
  std::string location;
};

const char* storageKindName(StorageKind kind);

// Parses "NAME=URL" for `kind`; nullopt with `error` naming the flag and the problem.
std::optional<StorageBindingSpec> parseStorageBinding(StorageKind kind, const std::string& text,
                                                      std::string& error);

// The URL with any password replaced by "***", for logs and status.
std::string redactStorageUrl(const std::string& location);

}  // namespace isolated
