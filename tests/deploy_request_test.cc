// Unit tests of a deploy request's app config (supervisor/apps/deploy_request.h): bindings of a
// new app, keeping and replacing them kind by kind on a new version, and the refusals (a bad URL,
// a bad name, a relative path, an unknown app, a name given twice).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "supervisor/apps/deploy_request.h"

namespace isolated::supervisor {
namespace {

using nlohmann::json;

bool known(const std::string& name) {
  return name == "auth" || name == "shop";
}

AppConfig ok(const json& request, const AppConfig* current = nullptr) {
  auto result = deployRequestConfig(request, current, known);
  if (auto* error = std::get_if<std::string>(&result)) {
    ADD_FAILURE() << "unexpected error: " << *error;
    return {};
  }
  return std::get<AppConfig>(result);
}

std::string error(const json& request, const AppConfig* current = nullptr) {
  auto result = deployRequestConfig(request, current, known);
  if (auto* message = std::get_if<std::string>(&result)) return *message;
  ADD_FAILURE() << "expected an error for " << request.dump();
  return {};
}

json deployOf(const json& fields) {
  json request = {{"cmd", "deploy"}, {"name", "n"}, {"script", "/srv/n.js"}};
  if (fields.is_object()) request.update(fields);
  return request;
}

const StorageBindingSpec* find(const AppConfig& app, const std::string& name) {
  for (const auto& spec : app.storage) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

TEST(DeployRequest, ANewAppTakesEveryKindOfBinding) {
  auto app = ok(deployOf({{"routes", {"n.test/*"}},
                          {"kv", {"KV=sqlite:/data/kv.db", "CACHE=/data/cache.db"}},
                          {"databases", {"DB=postgres://u:pw@localhost/db"}},
                          {"storage", {"FILES=file:/srv/files/"}},
                          {"services", {"AUTH=auth", "SELF=n"}}}));
  ASSERT_EQ(app.storage.size(), 4u);
  ASSERT_NE(find(app, "CACHE"), nullptr);
  EXPECT_EQ(find(app, "CACHE")->backend, StorageBackend::kSqlite);
  EXPECT_EQ(find(app, "CACHE")->location, "/data/cache.db");
  EXPECT_EQ(find(app, "DB")->kind, StorageKind::kDatabase);
  EXPECT_EQ(find(app, "DB")->backend, StorageBackend::kPostgres);
  EXPECT_EQ(find(app, "FILES")->location, "/srv/files/");
  EXPECT_EQ(app.services,
            (std::vector<ServiceBindingSpec>{{"AUTH", "auth"}, {"SELF", "n"}}));  // itself too
}

TEST(DeployRequest, ANewVersionKeepsEachKindItDoesNotNameAndReplacesOneItNames) {
  AppConfig current;
  current.name = "n";
  current.routes = {"n.test/*"};
  current.storage = {{"KV", StorageKind::kKv, StorageBackend::kSqlite, "/old/kv.db"},
                     {"DB", StorageKind::kDatabase, StorageBackend::kSqlite, "/old/db.db"},
                     {"FILES", StorageKind::kStorage, StorageBackend::kDirectory, "/old/files"}};
  current.services = {{"AUTH", "auth"}};

  auto same = ok(deployOf({}), &current);
  EXPECT_EQ(same.storage, current.storage);
  EXPECT_EQ(same.services, current.services);
  EXPECT_EQ(same.routes, current.routes);

  auto next = ok(deployOf({{"kv", {"SESSIONS=/new/s.db"}}, {"services", {"SHOP=shop"}}}), &current);
  EXPECT_EQ(find(next, "KV"), nullptr);
  ASSERT_NE(find(next, "SESSIONS"), nullptr);
  EXPECT_EQ(find(next, "SESSIONS")->location, "/new/s.db");
  ASSERT_NE(find(next, "DB"), nullptr);
  EXPECT_EQ(find(next, "DB")->location, "/old/db.db");
  ASSERT_NE(find(next, "FILES"), nullptr);
  EXPECT_EQ(next.services, (std::vector<ServiceBindingSpec>{{"SHOP", "shop"}}));

  // An empty array (the protocol only: ctl sends a kind when a flag names it) removes the kind.
  auto none = ok(deployOf({{"storage", json::array()}, {"services", json::array()}}), &current);
  EXPECT_EQ(find(none, "FILES"), nullptr);
  EXPECT_NE(find(none, "KV"), nullptr);
  EXPECT_TRUE(none.services.empty());
}

TEST(DeployRequest, BadBindingsAreRefusedNamingTheFlag) {
  json route = {{"routes", {"n.test/*"}}};
  auto with = [&](const json& fields) {
    json request = deployOf(route);
    request.update(fields);
    return request;
  };
  EXPECT_EQ(error(with({{"kv", {"KV=ftp://x/y"}}})),
            "deploy: --kv KV: unknown URL scheme in \"ftp://x/y\" (sqlite:PATH, file:DIR or "
            "postgres://...)");
  EXPECT_EQ(error(with({{"kv", {"1KV=/x.db"}}})),
            "deploy: --kv: \"1KV\" is not a JavaScript identifier");
  EXPECT_EQ(error(with({{"kv", {"KV"}}})), "deploy: --kv expects NAME=URL, got \"KV\"");
  EXPECT_EQ(error(with({{"databases", {"DB=data/db.sqlite"}}})),
            "deploy: --database DB: the path \"data/db.sqlite\" is relative; give an absolute "
            "path");
  EXPECT_EQ(error(with({{"storage", {"B=/x.db"}}})),
            "deploy: --storage B: object storage needs a directory (file:DIR)");
  EXPECT_EQ(error(with({{"kv", {"A=/a.db", "A=/b.db"}}})), "deploy: --kv A is given twice");
  EXPECT_EQ(error(with({{"kv", "A=/a.db"}})),
            "deploy: \"kv\" must be an array of \"NAME=URL\" strings");
  EXPECT_EQ(error(with({{"services", {"B=nobody"}}})),
            "deploy: --service B names the app 'nobody', which this server does not have (see "
            "`isolated ctl apps`)");
  EXPECT_NE(error(with({{"services", {"B=-bad"}}})).find("is not a valid app name"),
            std::string::npos);
  EXPECT_EQ(error(with({{"services", {"=auth"}}})),
            "deploy: --service expects NAME=APP, got \"=auth\"");
  EXPECT_EQ(error(with({{"services", {"if=auth"}}})),
            "deploy: --service: \"if\" is not a JavaScript identifier");
  json many = json::array();
  for (int i = 0; i < 101; ++i)
    many.push_back("K" + std::to_string(i) + "=/k.db");
  EXPECT_NE(error(with({{"kv", many}})).find("at most 100"), std::string::npos);
  // A password never appears in a refusal.
  EXPECT_EQ(error(with({{"kv", {"postgres://u:pw@h/db"}}})).find("pw"), std::string::npos);
}

TEST(DeployRequest, TheOtherFieldsAreCheckedAsBefore) {
  EXPECT_EQ(error({{"cmd", "deploy"}, {"name", "n"}}),
            "deploy needs \"name\" and \"script\" (an absolute path) strings");
  EXPECT_EQ(error(deployOf({{"script", "n.js"}})), "deploy: \"script\" must be an absolute path");
  EXPECT_EQ(error(deployOf({})), "deploy: a new app needs at least one --route");
  EXPECT_EQ(error(deployOf({{"routes", "x"}})),
            "deploy: \"routes\" and \"vars\" must be arrays of strings");
  auto app = ok(deployOf({{"routes", {"n.test/*"}}, {"vars", {"A=1,2", "A=3"}}}));
  EXPECT_EQ(app.bindings.vars, (std::vector<std::pair<std::string, std::string>>{{"A", "3"}}));
}

}  // namespace
}  // namespace isolated::supervisor

namespace isolated::supervisor {
namespace {

// What `--save` needs to read back the same app (config/app_table.h): paths as a config file
// makes them, and a --var replacing a file's non-string variable of that name.
TEST(DeployRequest, PathsAreNormalAndAVarReplacesAJsonVariable) {
  auto app = ok(deployOf({{"script", "/srv/./apps/../n.js"},
                          {"routes", {"n.test/*"}},
                          {"secrets_file", "/srv//s/./secrets.json"}}));
  EXPECT_EQ(app.scriptPath, "/srv/n.js");
  EXPECT_EQ(app.bindings.secretsFile, "/srv/s/secrets.json");
  AppConfig current = app;
  current.bindings.jsonVars = {{"N", "1"}, {"KEEP", "true"}};
  auto next = ok(deployOf({{"vars", {"N=two"}}}), &current);
  EXPECT_EQ(next.bindings.jsonVars,
            (std::vector<std::pair<std::string, std::string>>{{"KEEP", "true"}}));
  EXPECT_EQ(next.bindings.vars, (std::vector<std::pair<std::string, std::string>>{{"N", "two"}}));
}

}  // namespace
}  // namespace isolated::supervisor
