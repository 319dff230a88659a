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
  bool operator==(const StorageBindingSpec&) const = default;
};

// A service binding: `name` in the app's env, whose fetch() calls the app named `app` of the
// same server (docs/bindings.md, "Service bindings").
struct ServiceBindingSpec {
  std::string name;
  std::string app;
  bool operator==(const ServiceBindingSpec&) const = default;
};

// Storage and service bindings one app may have, together.
constexpr size_t kMaxAppResourceBindings = 100;

const char* storageKindName(StorageKind kind);

// Parses "NAME=URL" for `kind`; nullopt with `error` naming the flag and the problem. Relative
// paths resolve against `baseDir` (a config file's directory), or the working directory when
// it is empty.
std::optional<StorageBindingSpec> parseStorageBinding(StorageKind kind, const std::string& text,
                                                      std::string& error,
                                                      const std::string& baseDir = "");

// As parseStorageBinding, but a relative path is an error rather than resolved: for a control
// request (`ctl deploy`), whose paths ctl has already made absolute against its own directory.
std::optional<StorageBindingSpec> parseAbsoluteStorageBinding(StorageKind kind,
                                                              const std::string& text,
                                                              std::string& error);

// The URL that parses back to `spec` (its location with the scheme of its backend).
std::string storageBindingUrl(const StorageBindingSpec& spec);

// Parses "NAME=APP" (`--service`): NAME a binding name, APP a valid app name (whether the app
// exists is the caller's to check); nullopt with `error` naming the flag and the problem.
std::optional<ServiceBindingSpec> parseServiceBinding(const std::string& text, std::string& error);

// A storage or service binding whose name is taken (by another of them, or by a variable or
// secret of `env`): the error message; nullopt when every name is used once.
struct Binding;
std::optional<std::string> bindingNameClash(const std::vector<StorageBindingSpec>& storage,
                                            const std::vector<ServiceBindingSpec>& services,
                                            const std::vector<Binding>& env);

// The URL with any password replaced by "***", for logs and status.
std::string redactStorageUrl(const std::string& location);

}  // namespace isolated
