// The registry's tables in PostgreSQL: the schema (created on first use, versioned), reading the
// apps it holds, and writing a version or removing an app in one transaction with the NOTIFY
// that tells every server sharing the registry. docs/registry.md describes the tables.
//
// Every call blocks (libpq, each operation bounded by `timeout`) and so runs on a storage thread
// or before the event loop starts, never on the loop. Errors are storage::StorageError (the
// registry refused or holds something unreadable) or its subclass StorageUnavailable (PostgreSQL
// is down or did not answer in time); messages never carry a secret or the URL's password.
// Threading: one thread at a time, except listen(), which touches no shared state and may run
// on another thread meanwhile.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "supervisor/registry/app_record.h"
#include "supervisor/registry/secret_box.h"
#include "supervisor/storage/pg_connection.h"

namespace isolated::registry {

// The NOTIFY channel; the payload is "deploy NAME VERSION" or "undeploy NAME" (informative:
// a listener re-reads the heads either way).
inline constexpr const char* kNotifyChannel = "isolated_registry";
// The schema this build creates and reads; a registry with a newer one is refused.
inline constexpr int kSchemaVersion = 1;

class RegistryStore {
 public:
  // `key` seals and opens secrets; without one, a version holding secrets cannot be read or
  // written (a clear error says so).
  RegistryStore(std::string url, std::chrono::milliseconds timeout, std::optional<SecretKey> key);

  // Creates the tables when they are missing (two servers starting at once are serialised by
  // an advisory lock) and checks the schema version. Done once; later calls return at once.
  void ensureSchema();
  // Every app the registry holds: name -> its current version id.
  std::map<std::string, uint64_t> heads();
  // One version, its secrets opened. Throws when it holds secrets this server cannot open.
  AppRecord readVersion(uint64_t id);
  // Whether any app's current version holds secrets.
  bool currentVersionsHoldSecrets();
  // Writes `record` as a new version of its app and makes it current, with the NOTIFY, in one
  // transaction; returns the new version's id. `createdBy` names the writing server.
  uint64_t publish(const AppRecord& record, const std::string& createdBy);
  // Removes the app (its versions stay as history), with the NOTIFY; false when the registry
  // does not hold it.
  bool remove(const std::string& name);

  // A connection of its own that LISTENs on kNotifyChannel, for the loop to watch.
  std::unique_ptr<storage::PgConnection> listen();

  const std::optional<SecretKey>& key() const { return key_; }

 private:
  storage::PgConnection::Clock::time_point deadline() const;

  std::string url_;
  std::chrono::milliseconds timeout_;
  storage::PgPool pool_;
  std::optional<SecretKey> key_;
  bool schemaReady_ = false;
};

// "host/database" of a URL or conninfo, for log lines (never the password).
std::string registryWhere(const std::string& url);

}  // namespace isolated::registry
