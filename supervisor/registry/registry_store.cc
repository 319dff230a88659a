// The registry's SQL. Statements use parameters only; the schema is created in one transaction
// under an advisory lock.
#include "supervisor/registry/registry_store.h"

#include <libpq-fe.h>

#include <cstdlib>

namespace isolated::registry {

using storage::PgParam;
using storage::StorageError;

namespace {

// The advisory lock that serialises schema creation (any fixed 64-bit number).
constexpr const char* kSchemaLock = "7233391406207715937";

constexpr const char* kCreateSchema = R"sql(
CREATE TABLE IF NOT EXISTS isolated_registry_meta (
  key text PRIMARY KEY,
  value text NOT NULL
);
CREATE TABLE IF NOT EXISTS isolated_app_versions (
  id bigserial PRIMARY KEY,
  app text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by text NOT NULL,
  entry_path text NOT NULL,
  definition jsonb NOT NULL,
  secrets bytea,
  key_id text
);
CREATE INDEX IF NOT EXISTS isolated_app_versions_app ON isolated_app_versions (app, id);
CREATE TABLE IF NOT EXISTS isolated_app_modules (
  version_id bigint NOT NULL REFERENCES isolated_app_versions (id) ON DELETE CASCADE,
  path text NOT NULL,
  source text NOT NULL,
  PRIMARY KEY (version_id, path)
);
CREATE TABLE IF NOT EXISTS isolated_apps (
  name text PRIMARY KEY,
  version_id bigint NOT NULL REFERENCES isolated_app_versions (id),
  updated_at timestamptz NOT NULL DEFAULT now()
);
)sql";

PgParam text(std::string value) {
  return PgParam{std::move(value), false};
}

std::string field(PGresult* result, int row, int column) {
  return std::string(PQgetvalue(result, row, column),
                     static_cast<size_t>(PQgetlength(result, row, column)));
}

}  // namespace

std::string registryWhere(const std::string& url) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  if (options == nullptr) {
    if (error != nullptr) PQfreemem(error);
    return "(unparsable URL)";
  }
  std::string host;
  std::string port;
  std::string db;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    std::string keyword = o->keyword;
    if (keyword == "host") host = o->val;
    if (keyword == "port") port = o->val;
    if (keyword == "dbname") db = o->val;
  }
  PQconninfoFree(options);
  return (host.empty() ? "localhost" : host) + (port.empty() ? "" : ":" + port) + "/" +
         (db.empty() ? "(default)" : db);
}

RegistryStore::RegistryStore(std::string url, std::chrono::milliseconds timeout,
                             std::optional<SecretKey> key)
    : url_(std::move(url)), timeout_(timeout), pool_(url_, timeout), key_(std::move(key)) {}

storage::PgConnection::Clock::time_point RegistryStore::deadline() const {
  return storage::PgConnection::Clock::now() + timeout_;
}

void RegistryStore::ensureSchema() {
  if (schemaReady_) return;
  auto conn = pool_.acquire();
  conn->execAll(std::string("BEGIN; SELECT pg_advisory_xact_lock(") + kSchemaLock + ");" +
                    kCreateSchema +
                    "INSERT INTO isolated_registry_meta (key, value) VALUES ('schema_version', '" +
                    std::to_string(kSchemaVersion) + "') ON CONFLICT (key) DO NOTHING; COMMIT;",
                deadline());
  auto result = conn->query("SELECT value FROM isolated_registry_meta WHERE key = 'schema_version'",
                            {}, deadline());
  if (PQntuples(result.get()) != 1) throw StorageError("the registry has no schema_version");
  int version = std::atoi(PQgetvalue(result.get(), 0, 0));
  if (version > kSchemaVersion) {
    throw StorageError("the registry's schema is version " + std::to_string(version) +
                       "; this isolated reads version " + std::to_string(kSchemaVersion) +
                       " (upgrade isolated)");
  }
  schemaReady_ = true;
}

std::map<std::string, uint64_t> RegistryStore::heads() {
  ensureSchema();
  auto conn = pool_.acquire();
  auto result = conn->query("SELECT name, version_id FROM isolated_apps", {}, deadline());
  std::map<std::string, uint64_t> out;
  for (int row = 0; row < PQntuples(result.get()); ++row) {
    out[field(result.get(), row, 0)] = std::strtoull(PQgetvalue(result.get(), row, 1), nullptr, 10);
  }
  return out;
}

AppRecord RegistryStore::readVersion(uint64_t id) {
  ensureSchema();
  auto conn = pool_.acquire();
  auto result = conn->query(
      "SELECT app, entry_path, definition::text, secrets FROM isolated_app_versions "
      "WHERE id = $1::bigint",
      {text(std::to_string(id))}, deadline());
  if (PQntuples(result.get()) != 1) {
    throw StorageError("the registry has no version " + std::to_string(id));
  }
  AppRecord record;
  record.versionId = id;
  record.name = field(result.get(), 0, 0);
  record.entryPath = field(result.get(), 0, 1);
  std::string where = "registry version " + std::to_string(id) + " of '" + record.name + "'";
  auto definition = nlohmann::json::parse(field(result.get(), 0, 2), nullptr, false);
  if (auto error = readDefinition(definition, record)) {
    throw StorageError(where + ": definition: " + *error);
  }
  if (PQgetisnull(result.get(), 0, 3) == 0) {
    if (!key_) {
      throw StorageError(where + " holds secrets and this server has no --registry-key");
    }
    std::string sealed = storage::pgDecodeBytea(
        PQgetvalue(result.get(), 0, 3), static_cast<size_t>(PQgetlength(result.get(), 0, 3)));
    std::string error;
    auto opened = openSecret(*key_, sealed, record.name, error);
    if (!opened) throw StorageError(where + ": its secrets cannot be opened: " + error);
    if (auto bad = addSecrets(*opened, record)) throw StorageError(where + ": " + *bad);
  }
  auto modules = conn->query(
      "SELECT path, source FROM isolated_app_modules WHERE version_id = $1::bigint ORDER BY path",
      {text(std::to_string(id))}, deadline());
  for (int row = 0; row < PQntuples(modules.get()); ++row) {
    record.modules.emplace_back(field(modules.get(), row, 0), field(modules.get(), row, 1));
  }
  if (record.modules.empty()) throw StorageError(where + " has no files");
  return record;
}

bool RegistryStore::currentVersionsHoldSecrets() {
  ensureSchema();
  auto conn = pool_.acquire();
  auto result = conn->query(
      "SELECT count(*) FROM isolated_apps a JOIN isolated_app_versions v ON v.id = a.version_id "
      "WHERE v.secrets IS NOT NULL",
      {}, deadline());
  return std::strtoull(PQgetvalue(result.get(), 0, 0), nullptr, 10) > 0;
}

uint64_t RegistryStore::publish(const AppRecord& record, const std::string& createdBy) {
  ensureSchema();
  std::optional<std::string> sealed;
  std::optional<std::string> keyId;
  if (record.hasSecrets()) {
    if (!key_) {
      throw StorageError("the app has secrets and this server has no --registry-key to seal them");
    }
    sealed = sealSecret(*key_, secretsText(record), record.name);
    keyId = key_->id();
  }
  auto conn = pool_.acquire();
  conn->query("BEGIN", {}, deadline());
  auto inserted = conn->query(
      "INSERT INTO isolated_app_versions (app, created_by, entry_path, definition, secrets, "
      "key_id) "
      "VALUES ($1, $2, $3, $4::jsonb, $5, $6) RETURNING id",
      {text(record.name), text(createdBy), text(record.entryPath),
       text(definitionOf(record).dump()), PgParam{sealed, true}, PgParam{keyId, false}},
      deadline());
  std::string id = PQgetvalue(inserted.get(), 0, 0);
  for (const auto& [path, source] : record.modules) {
    conn->query(
        "INSERT INTO isolated_app_modules (version_id, path, source) VALUES ($1::bigint, $2, $3)",
        {text(id), text(path), text(source)}, deadline());
  }
  conn->query(
      "INSERT INTO isolated_apps (name, version_id) VALUES ($1, $2::bigint) "
      "ON CONFLICT (name) DO UPDATE SET version_id = EXCLUDED.version_id, updated_at = now()",
      {text(record.name), text(id)}, deadline());
  conn->query(std::string("SELECT pg_notify('") + kNotifyChannel + "', $1)",
              {text("deploy " + record.name + " " + id)}, deadline());
  conn->query("COMMIT", {}, deadline());
  return std::strtoull(id.c_str(), nullptr, 10);
}

bool RegistryStore::remove(const std::string& name) {
  ensureSchema();
  auto conn = pool_.acquire();
  conn->query("BEGIN", {}, deadline());
  auto deleted = conn->query("DELETE FROM isolated_apps WHERE name = $1 RETURNING version_id",
                             {text(name)}, deadline());
  bool existed = PQntuples(deleted.get()) > 0;
  if (existed) {
    conn->query(std::string("SELECT pg_notify('") + kNotifyChannel + "', $1)",
                {text("undeploy " + name)}, deadline());
  }
  conn->query("COMMIT", {}, deadline());
  return existed;
}

std::unique_ptr<storage::PgConnection> RegistryStore::listen() {
  auto conn = std::make_unique<storage::PgConnection>(url_, deadline());
  conn->execAll(std::string("LISTEN ") + kNotifyChannel, deadline());
  return conn;
}

}  // namespace isolated::registry
