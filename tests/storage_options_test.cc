// --kv / --database / --storage NAME=URL and their ISOLATED_*_<NAME> variables.
#include <gtest/gtest.h>

#include "cli/serve_options.h"

namespace isolated {
namespace {

ServeOptionsResult parse(const std::vector<std::string>& args,
                         std::vector<std::pair<std::string, std::string>> env = {}) {
  return parseServeOptions(
      args, [](const std::string&) -> std::optional<std::string> { return std::nullopt; }, 4,
      [env] { return env; });
}

std::string errorOf(const ServeOptionsResult& result) {
  auto* error = std::get_if<OptionsError>(&result);
  return error != nullptr ? error->message : "";
}

TEST(StorageOptions, FlagsChooseBackendsByUrl) {
  auto result =
      parse({"app.js", "--kv", "KV=/tmp/kv.sqlite", "--kv", "CACHE=sqlite:rel.db", "--database",
             "DB=postgres://u:secret@localhost/db", "--storage", "FILES=file:/srv/files"});
  ASSERT_TRUE(std::holds_alternative<ServeConfig>(result)) << errorOf(result);
  const auto& storage = std::get<ServeConfig>(result).apps.at(0).storage;
  ASSERT_EQ(storage.size(), 4u);
  // Sorted by name.
  EXPECT_EQ(storage[0].name, "CACHE");
  EXPECT_EQ(storage[0].backend, StorageBackend::kSqlite);
  EXPECT_TRUE(storage[0].location.starts_with("/")) << "relative paths are made absolute";
  EXPECT_EQ(storage[1].name, "DB");
  EXPECT_EQ(storage[1].kind, StorageKind::kDatabase);
  EXPECT_EQ(storage[1].backend, StorageBackend::kPostgres);
  EXPECT_EQ(storage[2].name, "FILES");
  EXPECT_EQ(storage[2].backend, StorageBackend::kDirectory);
  EXPECT_EQ(storage[2].location, "/srv/files");
  EXPECT_EQ(storage[3].location, "/tmp/kv.sqlite");
  EXPECT_EQ(redactStorageUrl(storage[1].location), "postgres://u:***@localhost/db");
}

TEST(StorageOptions, EnvironmentVariablesAndFlagsOverThem) {
  auto result =
      parse({"app.js", "--kv", "KV=/tmp/flag.sqlite"},
            {{"ISOLATED_KV_KV", "/tmp/env.sqlite"}, {"ISOLATED_STORAGE_FILES", "file:/tmp/files"}});
  ASSERT_TRUE(std::holds_alternative<ServeConfig>(result)) << errorOf(result);
  const auto& storage = std::get<ServeConfig>(result).apps.at(0).storage;
  ASSERT_EQ(storage.size(), 2u);
  EXPECT_EQ(storage[0].name, "FILES");
  EXPECT_EQ(storage[1].location, "/tmp/flag.sqlite");
}

TEST(StorageOptions, MistakesAreNamed) {
  EXPECT_NE(errorOf(parse({"app.js", "--kv", "no-equals"})).find("NAME=URL"), std::string::npos);
  EXPECT_NE(errorOf(parse({"app.js", "--kv", "1bad=/x"})).find("not a JavaScript identifier"),
            std::string::npos);
  EXPECT_NE(errorOf(parse({"app.js", "--kv", "KV=redis://x"})).find("unknown URL scheme"),
            std::string::npos);
  EXPECT_NE(errorOf(parse({"app.js", "--storage", "S=/x.db"})).find("file:DIR"), std::string::npos);
  EXPECT_NE(errorOf(parse({"app.js", "--kv", "KV=file:/x"})).find("only --storage"),
            std::string::npos);
  EXPECT_NE(errorOf(parse({"app.js", "--kv", "KV=/a", "--database", "KV=/b"})).find("twice"),
            std::string::npos);
  EXPECT_NE(errorOf(parse({"app.js", "--kv", "NAME=/a", "--var", "NAME=x"}))
                .find("already used in the app's env"),
            std::string::npos);
  // A password never appears in an error.
  EXPECT_EQ(errorOf(parse({"app.js", "--kv", "KV=mysql://u:hunter2@h/x"})).find("hunter2"),
            std::string::npos);
}

TEST(StorageOptions, WithAConfigFileTheyBelongInAppTables) {
  // Refused before the file is read: the bindings of each app are its [[app]] table's keys.
  for (const char* flag : {"--kv", "--database", "--storage"}) {
    auto error = errorOf(parse({"--config", "/nonexistent.toml", flag, "X=file:/x"}));
    EXPECT_NE(error.find("[[app]] table"), std::string::npos) << flag << ": " << error;
  }
  auto error =
      errorOf(parse({"--config", "/nonexistent.toml"}, {{"ISOLATED_KV_SESSIONS", "/tmp/kv.db"}}));
  EXPECT_NE(error.find("ISOLATED_KV_SESSIONS"), std::string::npos) << error;
  EXPECT_NE(error.find("[[app]] table"), std::string::npos) << error;
}

}  // namespace
}  // namespace isolated
