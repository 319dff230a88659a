// The TOML config file: what it fills in, and the precise error for each kind of mistake.
#include "config/config_file.h"

#include "common/bindings.h"

#include "temp_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace isolated {
namespace {

namespace fs = std::filesystem;

const ServerKey kKeys[] = {
    {"workers", SettingKind::kNumber},      {"listen", SettingKind::kText},
    {"access-log", SettingKind::kSwitch},   {"fetch-deny", SettingKind::kTextList},
    {"control-socket", SettingKind::kPath}, {"max-isolates", SettingKind::kNumber},
    {"cpu-limit", SettingKind::kNumber}};

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class ConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.write("apps/shop/index.js", "export default { fetch() { return new Response('shop') } }");
    dir_.write("apps/blog/index.js", "export default { fetch() { return new Response('blog') } }");
  }

  std::string write(const std::string& toml) { return dir_.write("isolated.toml", toml); }

  ConfigFile readOk(const std::string& toml) {
    auto result = readConfigFile(write(toml), kKeys);
    if (auto* error = std::get_if<std::string>(&result)) {
      ADD_FAILURE() << "unexpected error: " << *error;
      return {};
    }
    return std::get<ConfigFile>(std::move(result));
  }

  std::string readError(const std::string& toml) {
    auto result = readConfigFile(write(toml), kKeys);
    if (auto* error = std::get_if<std::string>(&result)) return *error;
    ADD_FAILURE() << "expected an error for:\n" << toml;
    return "";
  }

  // The path as errors show it.
  std::string file() const { return (dir_.path() / "isolated.toml").string(); }

  TempDir dir_;
};

const char* kShop = R"([[app]]
name = "shop"
script = "apps/shop/index.js"
routes = ["shop.example.com/*"]
)";

TEST_F(ConfigFileTest, ReadsServerAndApps) {
  dir_.write("secrets/shop.json", R"({"API_KEY": "s3cret"})");
  dir_.write("vars/blog.json", R"({"TITLE": "Blog", "PAGES": 3})");
  ConfigFile c = readOk(R"(# A platform
[server]
workers = 4
listen = "0.0.0.0:8080"
access_log = true
fetch_deny = ["10.0.0.0/8", "127.0.0.0/8"]
control_socket = "run/ctl.sock"
max_isolates = 500

[[app]]
name = "shop"
script = "apps/shop/index.js"
routes = ["shop.example.com/*", "example.com/shop/*", "*.shop.example.com/*"]
vars = { GREETING = "hi", LIMITS = { max = 3, names = ["a", "b"] }, ON = true, RATE = 0.5 }
secrets = { TOKEN = "t0k" }
secrets_file = "secrets/shop.json"
cpu_limit = 50
heap_limit = 64
wall_limit = 2000
max_concurrent = 200
cron = ["*/5 * * * *", "*/5 * * * *", "@hourly"]
isolation = "context"
dedicated_workers = false

[[app]]
name = "blog"
script = "./apps/../apps/blog/index.js"
routes = ["blog.example.com/*"]
vars_file = "vars/blog.json"
)");
  EXPECT_EQ(c.path, file());
  ASSERT_EQ(c.server.size(), 6u);
  EXPECT_EQ(c.server.at("workers").value, "4");
  EXPECT_EQ(c.server.at("workers").origin, file() + ":3: [server]: key \"workers\"");
  EXPECT_EQ(c.server.at("listen").value, "0.0.0.0:8080");
  EXPECT_EQ(c.server.at("access-log").value, "on");
  EXPECT_EQ(c.server.at("fetch-deny").value, "10.0.0.0/8,127.0.0.0/8");
  EXPECT_EQ(c.server.at("control-socket").value, (dir_.path() / "run/ctl.sock").string());
  EXPECT_EQ(c.server.at("max-isolates").value, "500");

  ASSERT_EQ(c.apps.size(), 2u);
  const AppConfig& shop = c.apps[0];
  EXPECT_EQ(shop.name, "shop");
  EXPECT_EQ(shop.scriptPath, (dir_.path() / "apps/shop/index.js").string());
  EXPECT_EQ(shop.routes, (std::vector<std::string>{"shop.example.com/*", "example.com/shop/*",
                                                   "*.shop.example.com/*"}));
  EXPECT_EQ(shop.bindings.vars,
            (std::vector<std::pair<std::string, std::string>>{{"GREETING", "hi"}}));
  EXPECT_EQ(shop.bindings.jsonVars,
            (std::vector<std::pair<std::string, std::string>>{
                {"LIMITS", R"({"max":3,"names":["a","b"]})"}, {"ON", "true"}, {"RATE", "0.5"}}));
  EXPECT_EQ(shop.bindings.secrets,
            (std::vector<std::pair<std::string, std::string>>{{"TOKEN", "t0k"}}));
  EXPECT_EQ(shop.bindings.secretsFile, (dir_.path() / "secrets/shop.json").string());
  EXPECT_EQ(shop.cpuLimitMs, 50u);
  EXPECT_EQ(shop.heapLimitMb, 64u);
  EXPECT_EQ(shop.wallLimitMs, 2000u);
  EXPECT_EQ(shop.maxConcurrent, 200u);
  EXPECT_EQ(shop.crons, (std::vector<std::string>{"*/5 * * * *", "@hourly"}));
  EXPECT_EQ(shop.isolation, IsolationMode::kContext);
  EXPECT_FALSE(shop.dedicatedWorkers);
  EXPECT_EQ(shop.origin, file() + ":10");

  const AppConfig& blog = c.apps[1];
  EXPECT_EQ(blog.scriptPath, (dir_.path() / "apps/blog/index.js").string());
  EXPECT_EQ(blog.bindings.varsFile, (dir_.path() / "vars/blog.json").string());
  EXPECT_FALSE(blog.cpuLimitMs.has_value());
  EXPECT_FALSE(blog.heapLimitMb.has_value());
  EXPECT_FALSE(blog.wallLimitMs.has_value());
  EXPECT_FALSE(blog.isolation.has_value());
  EXPECT_EQ(blog.maxConcurrent, 0u);
  EXPECT_FALSE(blog.dedicatedWorkers);
}

TEST_F(ConfigFileTest, AbsoluteScriptPathsStayAsTheyAre) {
  std::string script = dir_.write("elsewhere/app.js", "addEventListener('fetch', () => {})");
  ConfigFile c = readOk("[[app]]\nname = \"x\"\nscript = \"" + script + "\"\nroutes = [\"*/*\"]\n");
  ASSERT_EQ(c.apps.size(), 1u);
  EXPECT_EQ(c.apps[0].scriptPath, script);
}

TEST_F(ConfigFileTest, CronOnlyAppNeedsNoRoutes) {
  ConfigFile c =
      readOk("[[app]]\nname = \"jobs\"\nscript = \"apps/shop/index.js\"\ncron = \"0 3 * * *\"\n");
  ASSERT_EQ(c.apps.size(), 1u);
  EXPECT_TRUE(c.apps[0].routes.empty());
  EXPECT_EQ(c.apps[0].crons, std::vector<std::string>{"0 3 * * *"});
}

TEST_F(ConfigFileTest, UnknownAppKeyNamesFileLineAndKey) {
  EXPECT_EQ(readError(std::string(kShop) + "cpu_limt = 50\n"),
            file() + ":5: [[app]] \"shop\": key \"cpu_limt\" is unknown");
}

TEST_F(ConfigFileTest, UnknownServerKeys) {
  EXPECT_EQ(readError("[server]\nwrkers = 4\n" + std::string(kShop)),
            file() + ":2: [server]: key \"wrkers\" is unknown");
  EXPECT_TRUE(contains(readError("[server]\nmax-isolates = 4\n" + std::string(kShop)),
                       "keys use underscores: 'max_isolates'"));
  // Per-app keys in [server] say where they belong.
  EXPECT_TRUE(contains(readError("[server]\nvars_file = \"v.json\"\n" + std::string(kShop)),
                       "belongs in an [[app]] table"));
  EXPECT_TRUE(contains(readError("[server]\ncron = \"@daily\"\n" + std::string(kShop)),
                       "belongs in an [[app]] table"));
  EXPECT_EQ(readError(std::string(kShop) + "[logging]\nlevel = 1\n"),
            file() + ":5: top level: key \"logging\" is unknown (expected [server] and [[app]])");
}

TEST_F(ConfigFileTest, WrongTypes) {
  EXPECT_EQ(readError("[server]\nworkers = \"4\"\n" + std::string(kShop)),
            file() + ":2: [server]: key \"workers\": expected an integer, got a string");
  EXPECT_TRUE(contains(readError("[server]\naccess_log = 1\n" + std::string(kShop)),
                       "key \"access_log\": expected a boolean, got an integer"));
  EXPECT_TRUE(contains(readError("[server]\nlisten = 8080\n" + std::string(kShop)),
                       "key \"listen\": expected a string, got an integer"));
  EXPECT_TRUE(contains(readError("server = 1\n" + std::string(kShop)), "expected a table"));
  EXPECT_TRUE(contains(readError("[app]\nname = \"x\"\n"), "expected [[app]] tables"));
  EXPECT_EQ(readError(std::string(kShop) + "cpu_limit = \"50\"\n"),
            file() + ":5: [[app]] \"shop\": key \"cpu_limit\": expected an integer, got a string");
  EXPECT_TRUE(contains(readError("[[app]]\nname = \"a\"\nscript = \"apps/shop/index.js\"\n"
                                 "routes = \"a.com/*\"\n"),
                       "key \"routes\": expected an array of strings, got a string"));
  EXPECT_TRUE(contains(readError("[[app]]\nname = \"a\"\nscript = \"apps/shop/index.js\"\n"
                                 "routes = [\"a.com/*\", 3]\n"),
                       "key \"routes\": expected a string, got an integer"));
  EXPECT_TRUE(contains(readError(std::string(kShop) + "dedicated_workers = 1\n"),
                       "key \"dedicated_workers\": expected a boolean, got an integer"));
  EXPECT_TRUE(contains(readError(std::string(kShop) + "vars = [\"a\"]\n"),
                       "key \"vars\": expected a table, got an array"));
  EXPECT_TRUE(contains(readError(std::string(kShop) + "secrets = { KEY = 3 }\n"),
                       "secret 'KEY' must be a string, got an integer"));
  EXPECT_TRUE(contains(readError(std::string(kShop) + "vars = { WHEN = 1979-05-27 }\n"),
                       "a date has no JSON form"));
  EXPECT_TRUE(contains(readError(std::string(kShop) + "vars = { X = nan }\n"), "no inf or nan"));
  // A key given twice is TOML's own error, with a line and column.
  std::string twice = readError(std::string(kShop) + "name = 3\n");
  EXPECT_TRUE(contains(twice, file() + ":5:")) << twice;
  EXPECT_TRUE(contains(twice, "cannot redefine existing string 'name'")) << twice;
}

TEST_F(ConfigFileTest, OutOfRangeLimits) {
  EXPECT_EQ(readError(std::string(kShop) + "heap_limit = 8\n"),
            file() +
                ":5: [[app]] \"shop\": key \"heap_limit\": expected a whole number from 16 "
                "to 16384, got 8");
  EXPECT_TRUE(contains(readError(std::string(kShop) + "cpu_limit = -1\n"), "got -1"));
  EXPECT_TRUE(contains(readError(std::string(kShop) + "wall_limit = 0\n"), "from 1 to"));
  EXPECT_TRUE(contains(readError(std::string(kShop) + "isolation = \"thread\"\n"),
                       "key \"isolation\": expected shared, context or isolate, got 'thread'"));
}

TEST_F(ConfigFileTest, NamesAreCheckedAndUnique) {
  EXPECT_EQ(readError("[[app]]\nscript = \"apps/shop/index.js\"\nroutes = [\"*/*\"]\n"),
            file() + ":1: [[app]] #1: key \"name\" is missing");
  EXPECT_TRUE(contains(readError("[[app]]\nname = \"-shop\"\nscript = \"apps/shop/index.js\"\n"
                                 "routes = [\"*/*\"]\n"),
                       ":2: [[app]] #1: key \"name\": '-shop' is not a valid app name"));
  EXPECT_TRUE(contains(readError("[[app]]\nname = \"a b\"\nscript = \"apps/shop/index.js\"\n"
                                 "routes = [\"*/*\"]\n"),
                       "not a valid app name"));
  std::string second =
      "\n[[app]]\nname = \"shop\"\nscript = \"apps/blog/index.js\"\n"
      "routes = [\"blog.example.com/*\"]\n";
  EXPECT_EQ(readError(std::string(kShop) + second),
            file() + ":7: [[app]] \"shop\": key \"name\": the app at line 1 has the same name");
}

TEST_F(ConfigFileTest, ScriptMustBeReadable) {
  EXPECT_EQ(readError("[[app]]\nname = \"a\"\nroutes = [\"*/*\"]\n"),
            file() + ":1: [[app]] \"a\": key \"script\" is missing");
  EXPECT_EQ(readError("[[app]]\nname = \"a\"\nscript = \"apps/none.js\"\nroutes = [\"*/*\"]\n"),
            file() + ":3: [[app]] \"a\": key \"script\": cannot read '" +
                (dir_.path() / "apps/none.js").string() + "': no such file");
  EXPECT_TRUE(contains(readError("[[app]]\nname = \"a\"\nscript = \"apps\"\nroutes = [\"*/*\"]\n"),
                       "it is a directory"));
  if (geteuid() != 0) {  // root reads anything
    std::string locked = dir_.write("locked.js", "x");
    ::chmod(locked.c_str(), 0);
    EXPECT_TRUE(
        contains(readError("[[app]]\nname = \"a\"\nscript = \"locked.js\"\nroutes = [\"*/*\"]\n"),
                 "permission denied"));
  }
}

TEST_F(ConfigFileTest, RoutesAreValidatedWhereTheyAreWritten) {
  EXPECT_EQ(readError("[[app]]\nname = \"a\"\nscript = \"apps/shop/index.js\"\nroutes = [\n"
                      "  \"a.com/*\",\n  \"https://b.com/*\",\n]\n"),
            file() +
                ":6: [[app]] \"a\": key \"routes\": route 'https://b.com/*': a route has no "
                "scheme (write 'example.com/*', not 'https://example.com/*')");
  EXPECT_TRUE(contains(readError("[[app]]\nname = \"a\"\nscript = \"apps/shop/index.js\"\n"),
                       "key \"routes\" is missing"));
}

TEST_F(ConfigFileTest, TwoAppsWithOneRoute) {
  std::string second =
      "\n[[app]]\nname = \"blog\"\nscript = \"apps/blog/index.js\"\n"
      "routes = [\"blog.example.com/*\",\n  \"SHOP.example.com/*\"]\n";
  EXPECT_EQ(readError(std::string(kShop) + second),
            file() +
                ":10: [[app]] \"blog\": key \"routes\": route 'SHOP.example.com/*' belongs "
                "to both app 'shop' and app 'blog'");
}

TEST_F(ConfigFileTest, BadCron) {
  std::string error = readError(std::string(kShop) + "cron = [\"@daily\", \"61 * * * *\"]\n");
  EXPECT_TRUE(contains(error, file() + ":5: [[app]] \"shop\": key \"cron\": minute field"))
      << error;
}

TEST_F(ConfigFileTest, DedicatedWorkersAreRefusedUntilTheyExist) {
  std::string error = readError(std::string(kShop) + "dedicated_workers = true\n");
  EXPECT_TRUE(contains(error, file() + ":5: [[app]] \"shop\": key \"dedicated_workers\": "
                                       "dedicated workers are not supported yet"))
      << error;
}

TEST_F(ConfigFileTest, BadBindingFilesAndNames) {
  dir_.write("bad.json", "{ not json");
  std::string error = readError(std::string(kShop) + "\nvars_file = \"bad.json\"\n");
  EXPECT_EQ(error, file() + ":6: [[app]] \"shop\": key \"vars_file\": " +
                       (dir_.path() / "bad.json").string() + ": not valid JSON (at byte 4)");
  error = readError(std::string(kShop) + "secrets_file = \"missing.json\"\n");
  EXPECT_TRUE(contains(error, file() + ":5: [[app]] \"shop\": key \"secrets_file\": ")) << error;
  EXPECT_TRUE(contains(error, "cannot read")) << error;
  dir_.write("numbers.json", R"({"KEY": 3})");
  error = readError(std::string(kShop) + "secrets_file = \"numbers.json\"\n");
  EXPECT_TRUE(contains(error, "secret 'KEY' must be a string")) << error;
  EXPECT_TRUE(contains(readError(std::string(kShop) + "vars = { class = \"x\" }\n"),
                       ":5: [[app]] \"shop\": key \"vars\": 'class' is not a valid binding name"));
  // A name that is both a var and a secret.
  error = readError(std::string(kShop) + "vars = { K = \"a\" }\nsecrets = { K = \"b\" }\n");
  EXPECT_TRUE(contains(error, "'K' is defined both as a variable and as a secret")) << error;
  EXPECT_TRUE(contains(error, ":1: [[app]] \"shop\"")) << error;
}

TEST_F(ConfigFileTest, FileLevelErrors) {
  EXPECT_EQ(readError("[server]\nworkers = 2\n"),
            file() + ": no [[app]] table: a config file describes at least one app");
  EXPECT_TRUE(contains(readError("[server\nworkers = 2\n"), file() + ":1:"));
  std::string error = readError(std::string(kShop) + "routes = [\"x/*\"\n");
  EXPECT_TRUE(contains(error, file() + ":5:")) << error;
  auto missing = readConfigFile((dir_.path() / "none.toml").string(), kKeys);
  ASSERT_TRUE(std::holds_alternative<std::string>(missing));
  EXPECT_TRUE(contains(std::get<std::string>(missing), "cannot read"));
}

TEST_F(ConfigFileTest, RelativeConfigPathIsShownAsGivenAndMadeAbsolute) {
  write(kShop);
  fs::path cwd = fs::current_path();
  fs::current_path(dir_.path());
  auto result = readConfigFile("isolated.toml", kKeys);
  auto bad = (write(std::string(kShop) + "oops = 1\n"), readConfigFile("isolated.toml", kKeys));
  fs::current_path(cwd);
  ASSERT_TRUE(std::holds_alternative<ConfigFile>(result));
  EXPECT_EQ(std::get<ConfigFile>(result).path, file());
  ASSERT_TRUE(std::holds_alternative<std::string>(bad));
  EXPECT_EQ(std::get<std::string>(bad),
            "isolated.toml:5: [[app]] \"shop\": key \"oops\" is unknown");
}

TEST_F(ConfigFileTest, InlineVarsLoadAsStringAndJsonBindings) {
  dir_.write("vars.json", R"({"FROM_FILE": "f", "GREETING": "from the file"})");
  ConfigFile c = readOk(std::string(kShop) +
                        "vars_file = \"vars.json\"\n"
                        "vars = { GREETING = \"hi\", COUNT = 3, FLAGS = { beta = true } }\n"
                        "secrets = { TOKEN = \"t\" }\n");
  ASSERT_EQ(c.apps.size(), 1u);
  std::string error;
  auto bindings = loadBindings(c.apps[0].bindings, error);
  ASSERT_TRUE(bindings.has_value()) << error;
  std::map<std::string, Binding> byName;
  for (const auto& b : *bindings)
    byName[b.name] = b;
  ASSERT_EQ(byName.size(), 5u);
  EXPECT_EQ(byName["GREETING"].value, "hi");  // inline wins over the file
  EXPECT_FALSE(byName["GREETING"].json);
  EXPECT_EQ(byName["FROM_FILE"].value, "f");
  EXPECT_EQ(byName["COUNT"].value, "3");
  EXPECT_TRUE(byName["COUNT"].json);
  EXPECT_EQ(byName["FLAGS"].value, R"({"beta":true})");
  EXPECT_TRUE(byName["FLAGS"].json);
  EXPECT_TRUE(byName["TOKEN"].secret);
}

}  // namespace
}  // namespace isolated
