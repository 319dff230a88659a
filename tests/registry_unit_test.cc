// The registry's parts in-process: sealing secrets (round trip, a wrong key refused, tampering
// and a moved value detected), key files (formats, permissions), the stored form of an app
// version, and RegistryStore against a real PostgreSQL (tests/postgres_server.h): schema on
// first use, publish and read back, secrets sealed in the table, removal, NOTIFY.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sys/stat.h>
#include <algorithm>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "postgres_server.h"
#include "supervisor/registry/app_record.h"
#include "supervisor/registry/registry_store.h"
#include "supervisor/registry/secret_box.h"
#include "temp_dir.h"

namespace isolated::registry {
namespace {

using namespace std::chrono_literals;

SecretKey keyOf(uint8_t fill) {
  std::array<uint8_t, SecretKey::kBytes> bytes{};
  bytes.fill(fill);
  bytes[0] = 0x42;
  return SecretKey(bytes);
}

TEST(SecretBox, SealsAndOpens) {
  SecretKey key = keyOf(7);
  std::string sealed = sealSecret(key, R"({"TOKEN":"s3cret"})", "shop");
  EXPECT_EQ(sealed.find("s3cret"), std::string::npos);
  EXPECT_EQ(sealedKeyId(sealed), key.id());
  std::string error;
  auto opened = openSecret(key, sealed, "shop", error);
  ASSERT_TRUE(opened) << error;
  EXPECT_EQ(*opened, R"({"TOKEN":"s3cret"})");
  // A fresh nonce per seal: the same text seals differently.
  EXPECT_NE(sealSecret(key, "x", "shop"), sealSecret(key, "x", "shop"));
}

TEST(SecretBox, RefusesAWrongKey) {
  std::string sealed = sealSecret(keyOf(7), "value", "shop");
  std::string error;
  EXPECT_FALSE(openSecret(keyOf(8), sealed, "shop", error));
  EXPECT_NE(error.find("another key"), std::string::npos) << error;
  // The same key id with other bytes (a forged header) still fails authentication.
  SecretKey other = keyOf(9);
  std::string forged = sealed;
  std::string otherSealed = sealSecret(other, "value", "shop");
  forged.replace(4, 8, otherSealed.substr(4, 8));
  error.clear();
  EXPECT_FALSE(openSecret(other, forged, "shop", error));
  EXPECT_NE(error.find("does not authenticate"), std::string::npos) << error;
}

TEST(SecretBox, DetectsTampering) {
  SecretKey key = keyOf(7);
  std::string sealed = sealSecret(key, "a secret value", "shop");
  std::string error;
  for (size_t at : {size_t{4 + 8}, size_t{4 + 8 + 12}, sealed.size() - 1}) {
    std::string altered = sealed;
    altered[at] = static_cast<char>(altered[at] ^ 1);
    error.clear();
    EXPECT_FALSE(openSecret(key, altered, "shop", error)) << "byte " << at;
    EXPECT_NE(error.find("does not authenticate"), std::string::npos) << error;
  }
  // Truncated, and moved to another app's row.
  EXPECT_FALSE(openSecret(key, sealed.substr(0, 20), "shop", error));
  EXPECT_FALSE(openSecret(key, sealed.substr(0, sealed.size() - 1), "shop", error));
  error.clear();
  EXPECT_FALSE(openSecret(key, sealed, "blog", error));
  EXPECT_NE(error.find("does not authenticate"), std::string::npos) << error;
}

TEST(SecretKeyFile, ReadsHexAndRawKeys) {
  TempDir dir;
  std::string hex(64, 'a');
  std::string path = dir.write("hex.key", hex + "\n");
  ::chmod(path.c_str(), 0600);
  std::string error;
  auto key = readSecretKeyFile(path, error);
  ASSERT_TRUE(key) << error;
  EXPECT_EQ(key->bytes()[0], 0xaa);
  std::string raw(32, '\x01');
  path = dir.write("raw.key", raw);
  ::chmod(path.c_str(), 0400);
  auto rawKey = readSecretKeyFile(path, error);
  ASSERT_TRUE(rawKey) << error;
  EXPECT_EQ(rawKey->bytes()[31], 1);
  EXPECT_NE(rawKey->id(), key->id());
  EXPECT_EQ(rawKey->id().size(), 16u);
}

TEST(SecretKeyFile, RefusesWorldReadableAndMalformedFiles) {
  TempDir dir;
  std::string path = dir.write("open.key", std::string(64, 'b'));
  ::chmod(path.c_str(), 0644);
  std::string error;
  EXPECT_FALSE(readSecretKeyFile(path, error));
  EXPECT_NE(error.find("readable or writable by every user (mode 0644)"), std::string::npos)
      << error;
  EXPECT_NE(error.find("chmod 600"), std::string::npos) << error;
  path = dir.write("short.key", "abc");
  ::chmod(path.c_str(), 0600);
  error.clear();
  EXPECT_FALSE(readSecretKeyFile(path, error));
  EXPECT_NE(error.find("64 hex digits"), std::string::npos) << error;
  EXPECT_EQ(error.find("abc"), std::string::npos) << "a key file's content is never echoed";
  error.clear();
  EXPECT_FALSE(readSecretKeyFile(dir.path().string() + "/missing.key", error));
  EXPECT_NE(error.find("missing.key"), std::string::npos) << error;
}

AppRecord sampleRecord() {
  AppConfig config;
  config.name = "shop";
  config.scriptPath = "/srv/shop/index.js";
  config.routes = {"shop.test/*"};
  config.crons = {"*/5 * * * *"};
  config.cpuLimitMs = 20;
  config.isolation = IsolationMode::kContext;
  config.maxConcurrent = 7;
  std::vector<Binding> bindings = {{"GREETING", "hi", false, false},
                                   {"LIMITS", R"({"n":3})", true, false},
                                   {"TOKEN", "s3cret", false, true}};
  return recordOf(config, bindings,
                  {{"/srv/shop/index.js", "import './util.js';"}, {"/srv/shop/util.js", "//"}});
}

TEST(AppRecord, DefinitionRoundTripsWithoutSecrets) {
  AppRecord record = sampleRecord();
  auto definition = definitionOf(record);
  EXPECT_EQ(definition.dump().find("s3cret"), std::string::npos) << definition.dump();
  AppRecord back;
  ASSERT_FALSE(readDefinition(definition, back));
  ASSERT_FALSE(addSecrets(secretsText(record), back));
  back.name = record.name;
  back.entryPath = record.entryPath;
  back.modules = record.modules;
  back.versionId = 12;
  AppConfig config = configOf(back);
  EXPECT_EQ(config.routes, record.routes);
  EXPECT_EQ(config.crons, record.crons);
  EXPECT_EQ(config.cpuLimitMs, 20u);
  EXPECT_EQ(config.isolation, IsolationMode::kContext);
  EXPECT_EQ(config.maxConcurrent, 7u);
  EXPECT_EQ(config.registryVersion, 12u);
  EXPECT_EQ(config.modules.size(), 2u);
  ASSERT_EQ(config.bindings.vars.size(), 1u);
  EXPECT_EQ(config.bindings.vars[0].second, "hi");
  ASSERT_EQ(config.bindings.jsonVars.size(), 1u);
  EXPECT_EQ(config.bindings.jsonVars[0].second, R"({"n":3})");
  ASSERT_EQ(config.bindings.secrets.size(), 1u);
  EXPECT_EQ(config.bindings.secrets[0].second, "s3cret");
}

TEST(AppRecord, StorageAndServiceBindingsRoundTrip) {
  AppConfig config;
  config.name = "shop";
  config.scriptPath = "/srv/shop/index.js";
  config.routes = {"shop.test/*"};
  config.storage = {
      {"SESSIONS", StorageKind::kKv, StorageBackend::kSqlite, "/var/lib/isolated/kv.db"},
      {"DB", StorageKind::kDatabase, StorageBackend::kPostgres, "postgres://db.test/shop"},
      {"FILES", StorageKind::kStorage, StorageBackend::kDirectory, "/var/lib/isolated/files"}};
  config.services = {{"AUTH", "auth"}};
  AppRecord record = recordOf(config, {}, {{"/srv/shop/index.js", "//"}});
  AppRecord back;
  ASSERT_FALSE(readDefinition(definitionOf(record), back));
  AppConfig again = configOf(back);
  EXPECT_EQ(again.services, config.services);
  ASSERT_EQ(again.storage.size(), 3u);
  for (const auto& binding : config.storage) {
    EXPECT_NE(std::find(again.storage.begin(), again.storage.end(), binding), again.storage.end())
        << binding.name;
  }
  auto error = readDefinition(nlohmann::json{{"storage", {{"kv", {{"X", "ftp://x"}}}}}}, back);
  ASSERT_TRUE(error);
  EXPECT_NE(error->find("--kv"), std::string::npos) << *error;
  // A service binding read back is checked as a --service flag is (a hand-edited table).
  AppRecord edited;
  error = readDefinition(nlohmann::json{{"services", {{"AUTH", "not an app"}}}}, edited);
  ASSERT_TRUE(error);
  EXPECT_NE(error->find("is not a valid app name"), std::string::npos) << *error;
}

TEST(AppRecord, ABadDefinitionNamesTheKey) {
  AppRecord record;
  auto error = readDefinition(nlohmann::json{{"cpu_limit", 0}}, record);
  ASSERT_TRUE(error);
  EXPECT_NE(error->find("cpu_limit"), std::string::npos) << *error;
  error = readDefinition(nlohmann::json{{"routes", "x"}}, record);
  ASSERT_TRUE(error);
  EXPECT_NE(error->find("routes"), std::string::npos) << *error;
  error = readDefinition(nlohmann::json{{"isolation", "none"}}, record);
  ASSERT_TRUE(error);
}

// ---- RegistryStore on a real PostgreSQL ---------------------------------------------------

test::PostgresServer& postgres() {
  static test::PostgresServer server;
  return server;
}

std::string dump(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  std::string out;
  if (PQstatus(conn) == CONNECTION_OK) {
    PGresult* result = PQexec(conn, sql.c_str());
    for (int r = 0; r < PQntuples(result); ++r) {
      for (int c = 0; c < PQnfields(result); ++c)
        out += std::string(PQgetvalue(result, r, c)) + "|";
      out += "\n";
    }
    PQclear(result);
  }
  PQfinish(conn);
  return out;
}

TEST(RegistryStore, PublishesReadsAndRemoves) {
  if (!postgres().available()) GTEST_SKIP() << postgres().error();
  RegistryStore store(postgres().url(), 5000ms, keyOf(3));
  EXPECT_TRUE(store.heads().empty());  // the schema is made on first use

  // A second connection listens: the publish's NOTIFY reaches it at commit.
  auto listener = store.listen();
  uint64_t first = store.publish(sampleRecord(), "test:1");
  EXPECT_GT(first, 0u);
  auto heads = store.heads();
  ASSERT_EQ(heads.size(), 1u);
  EXPECT_EQ(heads["shop"], first);
  auto deadline = std::chrono::steady_clock::now() + 5s;
  std::string payload;
  while (payload.empty() && std::chrono::steady_clock::now() < deadline) {
    PQconsumeInput(listener->native());
    if (PGnotify* n = PQnotifies(listener->native())) {
      payload = n->extra;
      PQfreemem(n);
    }
  }
  EXPECT_EQ(payload, "deploy shop " + std::to_string(first));

  AppRecord back = store.readVersion(first);
  EXPECT_EQ(back.name, "shop");
  EXPECT_EQ(back.entryPath, "/srv/shop/index.js");
  EXPECT_EQ(back.modules.size(), 2u);
  EXPECT_TRUE(back.hasSecrets());
  EXPECT_TRUE(store.currentVersionsHoldSecrets());

  // The table holds ciphertext only.
  std::string rows = dump(postgres().url(),
                          "SELECT app, definition::text, encode(secrets, 'escape'), key_id "
                          "FROM isolated_app_versions");
  EXPECT_NE(rows.find("GREETING"), std::string::npos) << rows;
  EXPECT_EQ(rows.find("s3cret"), std::string::npos) << rows;
  EXPECT_NE(rows.find(keyOf(3).id()), std::string::npos) << rows;

  // Another key cannot read the version; no key is refused with a clear message.
  RegistryStore wrong(postgres().url(), 5000ms, keyOf(4));
  try {
    wrong.readVersion(first);
    FAIL() << "read with another key";
  } catch (const storage::StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("another key"), std::string::npos) << e.what();
  }
  RegistryStore none(postgres().url(), 5000ms, std::nullopt);
  try {
    none.readVersion(first);
    FAIL() << "read without a key";
  } catch (const storage::StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("no --registry-key"), std::string::npos) << e.what();
  }
  EXPECT_THROW(none.publish(sampleRecord(), "test:2"), storage::StorageError);

  uint64_t second = store.publish(sampleRecord(), "test:1");
  EXPECT_GT(second, first);
  EXPECT_EQ(store.heads()["shop"], second);
  EXPECT_TRUE(store.remove("shop"));
  EXPECT_FALSE(store.remove("shop"));
  EXPECT_TRUE(store.heads().empty());
  // Versions stay as history.
  EXPECT_EQ(store.readVersion(first).name, "shop");
}

TEST(RegistryStore, ADownDatabaseFailsWithinTheTimeout) {
  TempDir dir;
  RegistryStore store("postgresql://isolated@/postgres?host=" + dir.path().string(), 1000ms,
                      std::nullopt);
  auto started = std::chrono::steady_clock::now();
  EXPECT_THROW(store.heads(), storage::StorageUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
}

TEST(RegistryStore, WhereNeverShowsThePassword) {
  std::string where = registryWhere("postgresql://app:hunter2@db.internal:5433/apps");
  EXPECT_EQ(where, "db.internal:5433/apps");
  EXPECT_EQ(where.find("hunter2"), std::string::npos);
}

}  // namespace
}  // namespace isolated::registry
