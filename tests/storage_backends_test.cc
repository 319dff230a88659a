// The storage backends without the supervisor: every KV, SQL and object operation on SQLite,
// a directory and a real PostgreSQL (started by the suite), expiry, listing, concurrency,
// path escapes, a PostgreSQL that is down, and the storage executor.
#include <event2/event.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include "common/event_handles.h"
#include "postgres_server.h"
#include "supervisor/storage/file_object_store.h"
#include "supervisor/storage/pg_database.h"
#include "supervisor/storage/pg_kv_store.h"
#include "supervisor/storage/sqlite_database.h"
#include "supervisor/storage/sqlite_kv_store.h"
#include "supervisor/storage/storage_executor.h"
#include "temp_dir.h"

namespace isolated::storage {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// One PostgreSQL for the whole suite (initdb costs seconds).
test::PostgresServer& postgres() {
  static test::PostgresServer server;
  return server;
}

constexpr int64_t kNow = 1'700'000'000;

// What these tests give PostgreSQL to answer. The timeout itself is tested by PostgresDown;
// here it only has to outlast a 25 MiB value's round trip on a loaded 2-core machine under the
// sanitizers (it once took more than 5 s there).
constexpr std::chrono::milliseconds kPgTimeout = 30000ms;

// ---- KV, on both engines ----------------------------------------------------------------

class KvTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgres") {
      if (!postgres().available()) GTEST_SKIP() << postgres().error();
      // A fresh namespace per test keeps tests independent on the shared server.
      kv_ = std::make_unique<PgKvStore>(postgres().url(), name(), kPgTimeout);
    } else {
      kv_ = std::make_unique<SqliteKvStore>(dir_.path().string() + "/kv.sqlite", name());
    }
  }
  static std::string name() {
    return ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }
  std::unique_ptr<KvStore> open() {
    if (GetParam() == "postgres")
      return std::make_unique<PgKvStore>(postgres().url(), name(), kPgTimeout);
    return std::make_unique<SqliteKvStore>(dir_.path().string() + "/kv.sqlite", name());
  }
  TempDir dir_;
  std::unique_ptr<KvStore> kv_;
};

TEST_P(KvTest, PutGetDeleteRoundTripsBytesAndMetadata) {
  std::string binary("a\0b\xff", 4);
  kv_->put("k", {binary, R"({"x":1})", 0}, kNow);
  auto entry = kv_->get("k", kNow);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->value, binary);
  EXPECT_EQ(json::parse(entry->metadata), json({{"x", 1}}));
  EXPECT_EQ(entry->expiration, 0);
  kv_->put("k", {"second", "", 0}, kNow);
  EXPECT_EQ(kv_->get("k", kNow)->value, "second");
  EXPECT_EQ(kv_->get("k", kNow)->metadata, "");
  kv_->remove("k");
  EXPECT_FALSE(kv_->get("k", kNow));
  kv_->remove("never-there");
  EXPECT_FALSE(kv_->get("missing", kNow));
}

TEST_P(KvTest, ExpiredKeysAreNeverReturnedAndAreDeleted) {
  kv_->put("short", {"v", "", kNow + 10}, kNow);
  kv_->put("long", {"v", "", kNow + 1000}, kNow);
  EXPECT_TRUE(kv_->get("short", kNow + 9));
  EXPECT_FALSE(kv_->get("short", kNow + 10));
  auto list = kv_->list("", 1000, "", kNow + 10);
  ASSERT_EQ(list.keys.size(), 1u);
  EXPECT_EQ(list.keys[0].name, "long");
  EXPECT_EQ(list.keys[0].expiration, kNow + 1000);
  // Deleted, not just hidden: even a reader whose clock is behind no longer sees it.
  EXPECT_FALSE(kv_->get("short", kNow));
}

TEST_P(KvTest, ListPagesByPrefixLimitAndCursor) {
  for (const char* key : {"a/1", "a/2", "a/3", "b/1", "a/4"})
    kv_->put(key, {"v", "", 0}, kNow);
  auto page = kv_->list("a/", 3, "", kNow);
  ASSERT_EQ(page.keys.size(), 3u);
  EXPECT_EQ(page.keys[0].name, "a/1");
  EXPECT_EQ(page.keys[2].name, "a/3");
  EXPECT_FALSE(page.complete);
  auto rest = kv_->list("a/", 3, page.cursor, kNow);
  ASSERT_EQ(rest.keys.size(), 1u);
  EXPECT_EQ(rest.keys[0].name, "a/4");
  EXPECT_TRUE(rest.complete);
  EXPECT_EQ(kv_->list("", 1000, "", kNow).keys.size(), 5u);
  EXPECT_EQ(kv_->list("c", 10, "", kNow).keys.size(), 0u);
}

TEST_P(KvTest, LimitsAreRefusedWithPreciseErrors) {
  try {
    kv_->put(std::string(513, 'k'), {"v", "", 0}, kNow);
    FAIL() << "a 513-byte key was accepted";
  } catch (const StorageError& error) {
    EXPECT_NE(std::string(error.what()).find("at most 512 bytes"), std::string::npos);
  }
  EXPECT_THROW(kv_->put("k", {std::string(kKvMaxValueBytes + 1, 'v'), "", 0}, kNow), StorageError);
  EXPECT_THROW(kv_->put("k", {"v", std::string(1025, '1'), 0}, kNow), StorageError);
  EXPECT_THROW(kv_->put("k", {"v", "", kNow - 1}, kNow), StorageError);
  EXPECT_THROW(kv_->get("", kNow), StorageError);
  // The largest value is accepted.
  kv_->put("big", {std::string(kKvMaxValueBytes, 'v'), "", 0}, kNow);
  EXPECT_EQ(kv_->get("big", kNow)->value.size(), kKvMaxValueBytes);
}

TEST_P(KvTest, ManyWritersOnOneKeyLeaveOneOfTheirValues) {
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    writers.emplace_back([&, t] {
      auto kv = open();  // separate stores: as separate servers would be
      for (int i = 0; i < 25; ++i) {
        try {
          kv->put("hot", {"w" + std::to_string(t) + "-" + std::to_string(i), "", 0}, kNow);
        } catch (const StorageError&) {
          ++failures;
        }
      }
    });
  }
  for (auto& writer : writers)
    writer.join();
  EXPECT_EQ(failures.load(), 0);
  auto value = kv_->get("hot", kNow)->value;
  EXPECT_EQ(value.substr(value.find('-')), "-24");
}

TEST_P(KvTest, TwoStoresOnOneDatabaseSeeEachOthersWrites) {
  auto other = open();
  kv_->put("shared", {"from-one", "", 0}, kNow);
  EXPECT_EQ(other->get("shared", kNow)->value, "from-one");
  other->remove("shared");
  EXPECT_FALSE(kv_->get("shared", kNow));
}

INSTANTIATE_TEST_SUITE_P(Engines, KvTest, ::testing::Values("sqlite", "postgres"));

// ---- SQL, on both engines ---------------------------------------------------------------

class SqlTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    table_ = std::string("t_") + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    table_ = table_.substr(0, table_.find('/'));
    if (GetParam() == "postgres") {
      if (!postgres().available()) GTEST_SKIP() << postgres().error();
      db_ = std::make_unique<PgDatabase>(postgres().url(), kPgTimeout);
      db_->exec("DROP TABLE IF EXISTS " + table_);
      db_->exec("CREATE TABLE " + table_ + " (id INTEGER PRIMARY KEY, name TEXT, score REAL)");
    } else {
      db_ = std::make_unique<SqliteDatabase>(dir_.path().string() + "/d1.sqlite");
      db_->exec("CREATE TABLE " + table_ + " (id INTEGER PRIMARY KEY, name TEXT, score REAL)");
    }
  }
  TempDir dir_;
  std::string table_;
  std::unique_ptr<SqlDatabase> db_;
};

TEST_P(SqlTest, StatementsBindParametersAndReturnTypedRows) {
  auto inserted = db_->batch({{"INSERT INTO " + table_ + " (id, name, score) VALUES (?, ?, ?)",
                               json::array({1, "ada", 2.5})}});
  EXPECT_EQ(inserted[0].changes, 1);
  EXPECT_EQ(inserted[0].rowsWritten, 1);
  db_->batch({{"INSERT INTO " + table_ + " (id, name, score) VALUES (?1, ?2, ?3)",
               json::array({2, nullptr, 1})}});
  auto rows = db_->batch(
      {{"SELECT id, name, score FROM " + table_ + " WHERE id >= ? ORDER BY id", json::array({1})}});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].columns, (std::vector<std::string>{"id", "name", "score"}));
  EXPECT_EQ(rows[0].rows, json::parse(R"([[1, "ada", 2.5], [2, null, 1.0]])"));
  EXPECT_EQ(rows[0].changes, 0);
}

TEST_P(SqlTest, ABatchIsOneTransaction) {
  EXPECT_THROW(
      db_->batch(
          {{"INSERT INTO " + table_ + " (id, name) VALUES (?, ?)", json::array({1, "kept?"})},
           {"INSERT INTO " + table_ + " (id, name) VALUES (?, ?)", json::array({1, "duplicate"})}}),
      StorageError);
  auto count = db_->batch({{"SELECT count(*) AS n FROM " + table_, json::array()}});
  EXPECT_EQ(count[0].rows[0][0], 0) << "the first insert of the failed batch was not rolled back";
  auto ok = db_->batch({{"INSERT INTO " + table_ + " (id) VALUES (?)", json::array({1})},
                        {"INSERT INTO " + table_ + " (id) VALUES (?)", json::array({2})}});
  EXPECT_EQ(ok.size(), 2u);
  count = db_->batch({{"SELECT count(*) AS n FROM " + table_, json::array()}});
  EXPECT_EQ(count[0].rows[0][0], 2);
}

TEST_P(SqlTest, SqlErrorsCarryTheEnginesMessage) {
  try {
    db_->batch({{"SELEC 1", json::array()}});
    FAIL();
  } catch (const StorageError& error) {
    EXPECT_NE(std::string(error.what()).find("syntax error"), std::string::npos) << error.what();
  }
  try {
    db_->batch({{"SELECT * FROM no_such_table", json::array()}});
    FAIL();
  } catch (const StorageError& error) {
    EXPECT_NE(std::string(error.what()).find("no_such_table"), std::string::npos) << error.what();
  }
}

TEST_P(SqlTest, BlobsGoInAsBytesAndComeBackAsArrays) {
  std::string type = GetParam() == "postgres" ? "bytea" : "BLOB";
  db_->exec("CREATE TABLE " + table_ + "_b (data " + type + ")");
  db_->batch({{"INSERT INTO " + table_ + "_b (data) VALUES (?)",
               json::array({json{{"bytes", {0, 1, 255}}}})}});
  auto rows = db_->batch({{"SELECT data FROM " + table_ + "_b", json::array()}});
  EXPECT_EQ(rows[0].rows[0][0], json::array({0, 1, 255}));
}

TEST_P(SqlTest, ExecRunsSeveralStatements) {
  EXPECT_EQ(db_->exec("INSERT INTO " + table_ + " (id) VALUES (10); INSERT INTO " + table_ +
                      " (id) VALUES (11);"),
            2u);
  auto count = db_->batch({{"SELECT count(*) FROM " + table_, json::array()}});
  EXPECT_EQ(count[0].rows[0][0], 2);
}

TEST(SqliteDatabase, TheScriptsSqlCannotReachOtherFiles) {
  TempDir dir;
  SqliteDatabase db(dir.path().string() + "/d1.sqlite");
  for (const std::string& sql : {"ATTACH DATABASE '" + dir.path().string() + "/other.db' AS other",
                                 "VACUUM INTO '" + dir.path().string() + "/copy.db'"}) {
    EXPECT_THROW(db.batch({{sql, json::array()}}), StorageError) << sql;
    EXPECT_THROW(db.exec(sql), StorageError) << sql;
  }
  EXPECT_FALSE(std::filesystem::exists(dir.path().string() + "/other.db"));
  EXPECT_FALSE(std::filesystem::exists(dir.path().string() + "/copy.db"));
  EXPECT_THROW(db.batch({{"SELECT load_extension('x')", json::array()}}), StorageError);
}

INSTANTIATE_TEST_SUITE_P(Engines, SqlTest, ::testing::Values("sqlite", "postgres"));

TEST(PgPlaceholders, MapsQuestionMarksOutsideLiteralsAndComments) {
  EXPECT_EQ(pgPlaceholders("SELECT ? , ?"), "SELECT $1 , $2");
  EXPECT_EQ(pgPlaceholders("SELECT ?2, ?1"), "SELECT $2, $1");
  EXPECT_EQ(pgPlaceholders("SELECT '?', \"a?\", ? -- ?\n, $$?$$, ?"),
            "SELECT '?', \"a?\", $1 -- ?\n, $$?$$, $2");
  EXPECT_EQ(pgPlaceholders("SELECT data ? 'k' WHERE id = $1"), "SELECT data ? 'k' WHERE id = $1");
}

// ---- PostgreSQL down --------------------------------------------------------------------

TEST(PostgresDown, FailsWithAClearErrorWithinTheTimeout) {
  // A socket directory where no server listens.
  TempDir dir;
  PgKvStore kv("postgresql://isolated@/postgres?host=" + dir.path().string(), "ns", 1000ms);
  auto started = std::chrono::steady_clock::now();
  try {
    kv.get("k", kNow);
    FAIL() << "a get succeeded without a server";
  } catch (const StorageUnavailable& error) {
    EXPECT_NE(std::string(error.what()).find("PostgreSQL: cannot connect"), std::string::npos)
        << error.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
}

TEST(PostgresDown, AHungServerCostsAtMostTheTimeout) {
  // A listener that accepts and never answers: the connection handshake must time out.
  TempDir dir;
  std::string path = dir.path().string() + "/.s.PGSQL.5432";
  int listener = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path.c_str());
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  PgKvStore kv("postgresql://isolated@/postgres?host=" + dir.path().string(), "ns", 500ms);
  auto started = std::chrono::steady_clock::now();
  EXPECT_THROW(kv.put("k", {"v", "", 0}, kNow), StorageUnavailable);
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_GE(took, 450ms);
  EXPECT_LT(took, 2s);
  // The calls queued behind it fail at once with the same cause, for a second.
  started = std::chrono::steady_clock::now();
  try {
    kv.get("k", kNow);
    FAIL();
  } catch (const StorageUnavailable& error) {
    EXPECT_NE(std::string(error.what()).find("no answer within the storage timeout"),
              std::string::npos)
        << error.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, 200ms);
  ::close(listener);
}

TEST(PostgresDown, RecoversWhenTheServerComesBack) {
  if (!postgres().available()) GTEST_SKIP() << postgres().error();
  PgKvStore kv(postgres().url(), "recover", 2000ms);
  kv.put("k", {"before", "", 0}, kNow);
  ASSERT_TRUE(postgres().stop());
  EXPECT_THROW(kv.get("k", kNow), StorageUnavailable);
  ASSERT_TRUE(postgres().start());
  // Connects are not retried for PgPool::kRetryAfter after a failure: wait that out, bounded.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  std::optional<KvEntry> entry;
  while (!entry && std::chrono::steady_clock::now() < deadline) {
    try {
      entry = kv.get("k", kNow);
    } catch (const StorageUnavailable&) {
      std::this_thread::sleep_for(100ms);
    }
  }
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->value, "before");
}

// ---- objects in a directory -------------------------------------------------------------

class ObjectsTest : public ::testing::Test {
 protected:
  TempDir dir_;
  FileObjectStore store_{dir_.path().string()};
};

TEST_F(ObjectsTest, PutGetHeadDeleteWithMetadata) {
  auto info = store_.put("a/b.txt", "hello", {{"contentType", "text/plain"}}, {{"owner", "me"}});
  EXPECT_EQ(info.size, 5u);
  EXPECT_EQ(info.etag, "5d41402abc4b2a76b9719d911017c592");  // md5("hello")
  // The object is the plain file; its metadata is not in the user's tree.
  std::ifstream file(dir_.path().string() + "/a/b.txt");
  std::string contents((std::istreambuf_iterator<char>(file)), {});
  EXPECT_EQ(contents, "hello");
  EXPECT_FALSE(std::filesystem::exists(dir_.path().string() + "/a/b.txt.meta"));
  auto got = store_.get("a/b.txt");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->second, "hello");
  EXPECT_EQ(got->first.httpMetadata["contentType"], "text/plain");
  EXPECT_EQ(got->first.customMetadata["owner"], "me");
  auto head = store_.head("a/b.txt");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->etag, info.etag);
  store_.remove({"a/b.txt", "not/there"});
  EXPECT_FALSE(store_.get("a/b.txt"));
  EXPECT_FALSE(store_.head("a/b.txt"));
  EXPECT_FALSE(std::filesystem::exists(dir_.path().string() + "/a/b.txt"));
}

TEST_F(ObjectsTest, AFilePutThereByHandIsAnObject) {
  std::ofstream(dir_.path().string() + "/manual.txt") << "abc";
  auto head = store_.head("manual.txt");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->size, 3u);
  EXPECT_EQ(head->etag, "900150983cd24fb0d6963f7d28e17f72");  // md5("abc")
}

TEST_F(ObjectsTest, KeysThatWouldEscapeAreRefused) {
  for (const char* key : {"../x", "a/../../x", "/etc/passwd", "a//b", "./a", "a/.", "a/",
                          ".isolated-meta/objects/x.meta", ""}) {
    EXPECT_THROW(store_.put(key, "x", json::object(), json::object()), StorageError) << key;
    EXPECT_THROW(store_.get(key), StorageError) << key;
  }
  EXPECT_THROW(store_.put(std::string("a\0b", 3), "x", json::object(), json::object()),
               StorageError);
  // A symlink inside the tree is never followed, for reads or writes.
  TempDir outside;
  std::ofstream(outside.path().string() + "/secret") << "secret";
  std::filesystem::create_directory_symlink(outside.path().string(),
                                            dir_.path().string() + "/link");
  std::filesystem::create_symlink(outside.path().string() + "/secret",
                                  dir_.path().string() + "/file-link");
  EXPECT_THROW(store_.get("link/secret"), StorageError);
  EXPECT_THROW(store_.put("link/new", "x", json::object(), json::object()), StorageError);
  EXPECT_THROW(store_.get("file-link"), StorageError);
  EXPECT_FALSE(std::filesystem::exists(outside.path().string() + "/new"));
  auto list = store_.list("", 1000, "", "");
  EXPECT_TRUE(list.objects.empty()) << "symlinks listed as objects";
}

TEST_F(ObjectsTest, ListWithPrefixDelimiterLimitAndCursor) {
  for (const char* key : {"photos/2024/a.jpg", "photos/2024/b.jpg", "photos/2025/c.jpg",
                          "photos/top.jpg", "readme.txt"}) {
    store_.put(key, key, json::object(), json::object());
  }
  auto all = store_.list("", 1000, "", "");
  ASSERT_EQ(all.objects.size(), 5u);
  EXPECT_EQ(all.objects[0].key, "photos/2024/a.jpg");
  EXPECT_EQ(all.objects[0].size, 17u);
  auto folders = store_.list("photos/", 1000, "", "/");
  EXPECT_EQ(folders.delimitedPrefixes, (std::vector<std::string>{"photos/2024/", "photos/2025/"}));
  ASSERT_EQ(folders.objects.size(), 1u);
  EXPECT_EQ(folders.objects[0].key, "photos/top.jpg");
  auto first = store_.list("photos/", 2, "", "/");
  EXPECT_TRUE(first.truncated);
  EXPECT_EQ(first.delimitedPrefixes.size(), 2u);
  auto second = store_.list("photos/", 2, first.cursor, "/");
  EXPECT_FALSE(second.truncated);
  ASSERT_EQ(second.objects.size(), 1u);
  EXPECT_EQ(second.objects[0].key, "photos/top.jpg");
  EXPECT_TRUE(second.delimitedPrefixes.empty());
}

TEST_F(ObjectsTest, ConcurrentWritersNeverLeaveATornObject) {
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        store_.put("hot", std::string(10000, static_cast<char>('a' + t)), json::object(),
                   {{"writer", std::to_string(t)}});
      }
    });
  }
  std::thread reader([&] {
    for (int i = 0; i < 50; ++i) {
      if (auto got = store_.get("hot")) {
        EXPECT_EQ(got->second, std::string(10000, got->second[0]));
        EXPECT_EQ(got->first.customMetadata["writer"], std::to_string(got->second[0] - 'a'));
      }
    }
  });
  for (auto& writer : writers)
    writer.join();
  reader.join();
  EXPECT_TRUE(std::filesystem::is_empty(dir_.path().string() + "/.isolated-meta/tmp"));
}

// ---- the executor ----------------------------------------------------

TEST(StorageExecutor, RunsJobsOffTheLoopAndCompletesOnIt) {
  EventBasePtr base(event_base_new());
  StorageExecutor executor(base.get(), 2);
  std::thread::id loopThread = std::this_thread::get_id();
  std::atomic<int> offLoop{0};
  int completed = 0;
  for (int i = 0; i < 100; ++i) {
    executor.submit([&]() -> std::function<void()> {
      if (std::this_thread::get_id() != loopThread) ++offLoop;
      return [&] {
        EXPECT_EQ(std::this_thread::get_id(), loopThread);
        if (++completed == 100) event_base_loopbreak(base.get());
      };
    });
  }
  EXPECT_EQ(executor.pending(), 100u);
  event_base_dispatch(base.get());
  EXPECT_EQ(completed, 100);
  EXPECT_EQ(offLoop.load(), 100);
  EXPECT_EQ(executor.pending(), 0u);
}

}  // namespace
}  // namespace isolated::storage
