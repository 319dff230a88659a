// Saving apps into the config file (`ctl deploy --save`): the splice leaves every other byte as
// written, the rendered table reads back as the running app, and the saver refuses to overwrite
// an edit it has not read, keeps the file's mode and refuses a file that would not load.
#include "config/config_save.h"
#include "config/app_table.h"
#include "config/config_splice.h"

#include "config/app_diff.h"
#include "config/config_file.h"

#include "temp_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <variant>

namespace isolated {
namespace {

namespace fs = std::filesystem;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string splice(const std::string& text, const std::string& name,
                   const std::optional<std::string>& table) {
  std::string error;
  auto out = spliceAppTable(text, "isolated.toml", name, table, error);
  EXPECT_TRUE(out) << error;
  return out.value_or("");
}

std::string spliceError(const std::string& text, const std::string& name) {
  std::string error;
  auto out = spliceAppTable(text, "isolated.toml", name, "[[app]]\nname = \"x\"\n", error);
  EXPECT_FALSE(out) << *out;
  return error;
}

const std::string kHead =
    "# The shop's server.\n"
    "[server]\n"
    "workers = 2   # two is plenty\n"
    "\n";
const std::string kShop =
    "[[app]]   # the shop\n"
    "name = \"shop\"\n"
    "script = \"shop.js\"  # entry\n"
    "# a comment inside\n"
    "routes = [\n"
    "  \"shop.test/*\",\n"
    "]\n";
const std::string kBetween = "\n# Next: the blog.\n\n";
const std::string kBlog =
    "[[app]]\n"
    "name = 'blog'\n"
    "script = \"blog.js\"\n"
    "routes = [\"blog.test/*\"]\n";
const std::string kTail = "\n# end of file\n";
const std::string kNew = "[[app]]\nname = \"shop\"\nscript = \"v2.js\"\n";

TEST(ConfigSpliceTest, ReplacingAnAppLeavesEveryOtherByte) {
  std::string text = kHead + kShop + kBetween + kBlog + kTail;
  EXPECT_EQ(splice(text, "shop", kNew), kHead + kNew + kBetween + kBlog + kTail);
  std::string blog = "[[app]]\nname = \"blog\"\nscript = \"b2.js\"\n";
  EXPECT_EQ(splice(text, "blog", blog), kHead + kShop + kBetween + blog + kTail);
}

TEST(ConfigSpliceTest, ANewAppIsAppended) {
  std::string text = kHead + kBlog;
  EXPECT_EQ(splice(text, "shop", kNew), text + "\n" + kNew);
  // A file without a final newline gets one before the new table.
  std::string bare = kHead + "[[app]]\nname = \"blog\"\nscript = \"blog.js\"";
  EXPECT_EQ(splice(bare, "shop", kNew), bare + "\n\n" + kNew);
}

TEST(ConfigSpliceTest, UndeployRemovesOnlyTheTable) {
  std::string text = kHead + kShop + kBetween + kBlog + kTail;
  EXPECT_EQ(splice(text, "shop", std::nullopt), kHead + kBetween + kBlog + kTail);
  EXPECT_EQ(splice(text, "blog", std::nullopt), kHead + kShop + kBetween + kTail);
  // An app the file does not describe: nothing changes.
  EXPECT_EQ(splice(text, "other", std::nullopt), text);
}

TEST(ConfigSpliceTest, TheLastTableWithoutAFinalNewline) {
  std::string text = kHead + kShop + kBetween + "[[app]]\nname = \"blog\"\nscript = \"blog.js\"";
  EXPECT_EQ(splice(text, "blog", "[[app]]\nname = \"blog\"\n"),
            kHead + kShop + kBetween + "[[app]]\nname = \"blog\"\n");
  EXPECT_EQ(splice(text, "blog", std::nullopt), kHead + kShop + kBetween);
}

TEST(ConfigSpliceTest, SubTablesAndDottedKeysGoWithTheirApp) {
  // toml++ reads `[app.vars]` as a table of the last [[app]]: it is part of that app's span.
  std::string shop =
      "[[app]]\n"
      "name = \"shop\"\n"
      "script = \"shop.js\"\n"
      "limits.x = 1\n"
      "[app.vars]\n"
      "GREETING = \"hi\"\n"
      "[app.kv]\n"
      "CACHE = \"sqlite:cache.db\"\n";
  std::string text = kHead + shop + kBetween + kBlog;
  EXPECT_EQ(splice(text, "shop", kNew), kHead + kNew + kBetween + kBlog);
  EXPECT_EQ(splice(text, "shop", std::nullopt), kHead + kBetween + kBlog);
}

TEST(ConfigSpliceTest, LayoutsItCannotTellApartAreRefused) {
  // A table between an app's header and its sub-table.
  std::string interleaved =
      "[[app]]\nname = \"shop\"\nscript = \"shop.js\"\n[server]\nworkers = 2\n"
      "[app.vars]\nA = \"b\"\n";
  std::string error = spliceError(interleaved, "shop");
  EXPECT_TRUE(contains(error, "isolated.toml:4")) << error;
  EXPECT_TRUE(contains(error, "sub-tables")) << error;
  // Apps written as an inline array.
  error = spliceError("app = [ { name = \"shop\", script = \"shop.js\" } ]\n", "shop");
  EXPECT_TRUE(contains(error, "inline")) << error;
  error = spliceError("[server\n", "shop");
  EXPECT_TRUE(contains(error, "isolated.toml:1")) << error;
}

class ConfigSaveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.write("shop.js", "export default {}");
    dir_.write("blog.js", "export default {}");
    dir_.write("secrets/shop.json", "{\"TOKEN\": \"t\"}");
    dir_.write("vars.json", "{\"MODE\": \"x\"}");
    path_ = dir_.write("isolated.toml", kHead + kShop + kBetween + kBlog + kTail);
  }

  AppConfig readBack(const std::string& name) {
    std::ifstream in(path_);
    std::stringstream text;
    text << in.rdbuf();
    auto read = readConfigApps(text.str(), path_);
    if (auto* error = std::get_if<std::string>(&read)) {
      ADD_FAILURE() << *error;
      return {};
    }
    for (const auto& app : std::get<ConfigFile>(read).apps)
      if (app.name == name) return app;
    ADD_FAILURE() << "no app " << name;
    return {};
  }

  std::string fileText() {
    std::ifstream in(path_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  ConfigSaver saver() { return ConfigSaver(path_, fileText()); }

  TempDir dir_;
  std::string path_;
};

// Every key an app can have, rendered and read back as the same app.
TEST_F(ConfigSaveTest, ARenderedAppReadsBackAsTheSameApp) {
  fs::path outside = dir_.path().parent_path() / "elsewhere.db";
  AppConfig app;
  app.name = "shop";
  app.scriptPath = (dir_.path() / "shop.js").string();
  app.routes = {"shop.test/*", "*.shop.test/api/*"};
  app.bindings.vars = {{"Z", "last"}, {"GREETING", "say \"hi\"\\\n\tö"}};
  app.bindings.jsonVars = {{"N", "42"}, {"F", "0.1"}, {"L", "[1,\"a\",{\"k\":true}]"}};
  app.bindings.secrets = {{"INLINE", "s3cret'\""}};
  app.bindings.secretsFile = (dir_.path() / "secrets/shop.json").string();
  app.bindings.varsFile = (dir_.path() / "vars.json").string();
  app.storage = {
      {"CACHE", StorageKind::kKv, StorageBackend::kSqlite,
       (dir_.path() / "data/cache.db").string()},
      {"DB", StorageKind::kDatabase, StorageBackend::kSqlite, outside.string()},
      {"PG", StorageKind::kDatabase, StorageBackend::kPostgres, "postgres://u@127.0.0.1/db?x=1"},
      {"FILES", StorageKind::kStorage, StorageBackend::kDirectory,
       (dir_.path() / "files").string()}};
  app.services = {{"BLOG", "blog"}};
  app.crons = {"*/5 * * * *", "0 0 * * *"};
  app.cpuLimitMs = 50;
  app.heapLimitMb = 64;
  app.wallLimitMs = 2000;
  app.isolation = IsolationMode::kContext;
  app.maxConcurrent = 200;
  std::string error;
  auto table = renderAppTable(app, dir_.path(), error);
  ASSERT_TRUE(table) << error;
  // Paths under the file's directory are relative; others stay absolute.
  EXPECT_TRUE(contains(*table, "script = \"shop.js\"\n")) << *table;
  EXPECT_TRUE(contains(*table, "secrets_file = \"secrets/shop.json\"\n")) << *table;
  EXPECT_TRUE(contains(*table, "\"sqlite:data/cache.db\"")) << *table;
  EXPECT_TRUE(contains(*table, "\"sqlite:" + outside.string() + "\"")) << *table;
  EXPECT_TRUE(table->starts_with("[[app]]\nname = \"shop\"\nscript = ")) << *table;

  auto saving = saver();
  auto pending = saving.prepareSave(app);
  ASSERT_TRUE(std::holds_alternative<PendingSave>(pending)) << std::get<std::string>(pending);
  ASSERT_EQ(saving.commit(std::get<PendingSave>(pending)), std::nullopt);
  EXPECT_TRUE(sameApp(readBack("shop"), app)) << fileText();
  // The rest of the file is as it was.
  EXPECT_TRUE(fileText().starts_with(kHead + "[[app]]\nname = \"shop\"")) << fileText();
  EXPECT_TRUE(fileText().ends_with(kBetween + kBlog + kTail)) << fileText();
}

TEST_F(ConfigSaveTest, ANewAppIsAddedAndAnUndeployRemovesIt) {
  AppConfig app;
  app.name = "news";
  app.scriptPath = (dir_.path() / "blog.js").string();
  app.routes = {"news.test/*"};
  auto saving = saver();
  auto pending = saving.prepareSave(app);
  ASSERT_TRUE(std::holds_alternative<PendingSave>(pending)) << std::get<std::string>(pending);
  ASSERT_EQ(saving.commit(std::get<PendingSave>(pending)), std::nullopt);
  EXPECT_EQ(fileText(), kHead + kShop + kBetween + kBlog + kTail +
                            "\n[[app]]\nname = \"news\"\nscript = \"blog.js\"\nroutes = "
                            "[ \"news.test/*\" ]\n");
  EXPECT_TRUE(sameApp(readBack("news"), app));

  auto removal = saving.prepareRemove("news");
  ASSERT_TRUE(std::holds_alternative<PendingSave>(removal)) << std::get<std::string>(removal);
  ASSERT_EQ(saving.commit(std::get<PendingSave>(removal)), std::nullopt);
  EXPECT_EQ(fileText(), kHead + kShop + kBetween + kBlog + kTail + "\n");
}

TEST_F(ConfigSaveTest, AnEditTheServerHasNotReadIsNeverOverwritten) {
  auto saving = saver();
  AppConfig app = readBack("shop");
  app.cpuLimitMs = 10;
  auto pending = saving.prepareSave(app);
  ASSERT_TRUE(std::holds_alternative<PendingSave>(pending));
  // The operator edits the file between the check and the write.
  std::string edited = fileText() + "# an operator's edit\n";
  dir_.write("isolated.toml", edited);
  auto error = saving.commit(std::get<PendingSave>(pending));
  ASSERT_TRUE(error);
  EXPECT_TRUE(contains(*error, "changed on disk since the server read it")) << *error;
  EXPECT_EQ(fileText(), edited);
  ASSERT_TRUE(saving.check("shop"));
  EXPECT_TRUE(std::holds_alternative<std::string>(saving.prepareSave(app)));
  // Once the server has read the edit (a reload), saves go on from it.
  saving.read(edited);
  EXPECT_EQ(saving.check("shop"), std::nullopt);
  pending = saving.prepareSave(app);
  ASSERT_TRUE(std::holds_alternative<PendingSave>(pending));
  ASSERT_EQ(saving.commit(std::get<PendingSave>(pending)), std::nullopt);
  EXPECT_TRUE(contains(fileText(), "cpu_limit = 10\n")) << fileText();
  EXPECT_TRUE(contains(fileText(), "# an operator's edit\n")) << fileText();
}

TEST_F(ConfigSaveTest, TheFilesModeIsKept) {
  ASSERT_EQ(::chmod(path_.c_str(), 0640), 0);
  // As root the owner is kept too (another user's file stays theirs).
  const bool root = ::geteuid() == 0;
  if (root) {
    ASSERT_EQ(::chown(path_.c_str(), 65534, 65534), 0);
  }
  auto saving = saver();
  AppConfig app = readBack("blog");
  app.routes.push_back("blog.test/feed");
  auto pending = saving.prepareSave(app);
  ASSERT_TRUE(std::holds_alternative<PendingSave>(pending));
  ASSERT_EQ(saving.commit(std::get<PendingSave>(pending)), std::nullopt);
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  if (root) {
    EXPECT_EQ(st.st_uid, 65534u);
    EXPECT_EQ(st.st_gid, 65534u);
  }
  // No temporary file is left beside it.
  size_t entries = 0;
  for (const auto& entry : fs::directory_iterator(dir_.path()))
    entries += entry.path().filename().string().starts_with(".isolated.toml") ? 1 : 0;
  EXPECT_EQ(entries, 0u);
}

TEST_F(ConfigSaveTest, AnAppWrittenWithSubTablesIsSavedInline) {
  std::string text = kHead +
                     "[[app]]\nname = \"shop\"\nscript = \"shop.js\"\nroutes = [\"shop.test/*\"]\n"
                     "[app.vars]\nGREETING = \"hi\"\nN = 2\n" +
                     kBetween + kBlog;
  dir_.write("isolated.toml", text);
  auto saving = saver();
  AppConfig app = readBack("shop");
  ASSERT_EQ(app.bindings.jsonVars.size(), 1u);
  app.bindings.vars.push_back({"MORE", "x"});
  auto pending = saving.prepareSave(app);
  ASSERT_TRUE(std::holds_alternative<PendingSave>(pending)) << std::get<std::string>(pending);
  ASSERT_EQ(saving.commit(std::get<PendingSave>(pending)), std::nullopt);
  EXPECT_TRUE(sameApp(readBack("shop"), app)) << fileText();
  EXPECT_FALSE(contains(fileText(), "[app.vars]")) << fileText();
  EXPECT_TRUE(contains(fileText(), "vars = { GREETING = \"hi\", MORE = \"x\", N = 2 }\n"))
      << fileText();
  EXPECT_TRUE(fileText().ends_with(kBetween + kBlog)) << fileText();
}

TEST_F(ConfigSaveTest, ASaveThatWouldNotLoadIsRefused) {
  auto saving = saver();
  // Removing one app leaves the other; removing both would leave a file with none.
  auto removal = saving.prepareRemove("shop");
  ASSERT_TRUE(std::holds_alternative<PendingSave>(removal));
  ASSERT_EQ(saving.commit(std::get<PendingSave>(removal)), std::nullopt);
  auto last = saving.prepareRemove("blog");
  ASSERT_TRUE(std::holds_alternative<std::string>(last));
  EXPECT_TRUE(contains(std::get<std::string>(last), "no [[app]] table"))
      << std::get<std::string>(last);
  // An app whose route another app of the file holds.
  AppConfig clash;
  clash.name = "other";
  clash.scriptPath = (dir_.path() / "shop.js").string();
  clash.routes = {"blog.test/*"};
  auto pending = saving.prepareSave(clash);
  ASSERT_TRUE(std::holds_alternative<std::string>(pending));
  EXPECT_TRUE(contains(std::get<std::string>(pending), "would not load"))
      << std::get<std::string>(pending);
  // A registry app is not the file's.
  clash.registryVersion = 3;
  EXPECT_TRUE(std::holds_alternative<std::string>(saving.prepareSave(clash)));
}

}  // namespace
}  // namespace isolated
