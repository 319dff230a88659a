// SQLite connections and statements: open in WAL mode, bind, step, and errors as StorageError.
#include "supervisor/storage/sqlite_handle.h"

namespace isolated::storage {

namespace {
// How long a connection waits for another writer's lock before SQLITE_BUSY.
constexpr int kBusyTimeoutMs = 5000;
}  // namespace

SqliteHandle::SqliteHandle(const std::string& path) {
  int rc =
      sqlite3_open_v2(path.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    throw StorageError("cannot open the SQLite database " + path + ": " + message);
  }
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  sqlite3_extended_result_codes(db_, 1);
  exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
}

SqliteHandle::~SqliteHandle() {
  statements_.clear();
  sqlite3_close_v2(db_);
}

sqlite3_stmt* SqliteHandle::cached(const std::string& sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) return it->second.get();
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                         &stmt, nullptr) != SQLITE_OK) {
    throw StorageError(sqlite3_errmsg(db_));
  }
  statements_.emplace(sql, stmt);
  return stmt;
}

void SqliteHandle::exec(const std::string& sql) {
  char* error = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    std::string message = error != nullptr ? error : sqlite3_errstr(rc);
    sqlite3_free(error);
    throw StorageError(message);
  }
}

void SqliteHandle::check(int rc, const char* what) const {
  if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) return;
  throw StorageError(std::string(what) + ": " + sqlite3_errmsg(db_));
}

SqliteStatement::SqliteStatement(const SqliteHandle& db, const std::string& sql) : db_(db) {
  int rc = sqlite3_prepare_v2(db.get(), sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr);
  if (rc != SQLITE_OK) throw StorageError(sqlite3_errmsg(db.get()));
}

SqliteStatement::SqliteStatement(SqliteHandle& db, const std::string& sql, Cached)
    : db_(db), stmt_(db.cached(sql)), cached_(true) {}

SqliteStatement::~SqliteStatement() {
  if (cached_) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  } else {
    sqlite3_finalize(stmt_);
  }
}

void SqliteStatement::bindText(int index, const std::string& text) {
  db_.check(
      sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
      "bind");
}

void SqliteStatement::bindBlob(int index, const std::string& bytes) {
  db_.check(sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT),
            "bind");
}

void SqliteStatement::bindInt(int index, int64_t value) {
  db_.check(sqlite3_bind_int64(stmt_, index, value), "bind");
}

bool SqliteStatement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw StorageError(sqlite3_errmsg(db_.get()));
}

std::string SqliteStatement::columnBytes(int index) const {
  const void* data = sqlite3_column_blob(stmt_, index);
  int size = sqlite3_column_bytes(stmt_, index);
  return data != nullptr ? std::string(static_cast<const char*>(data), static_cast<size_t>(size))
                         : std::string();
}

SqlitePool::SqlitePool(std::string path, std::function<void(SqliteHandle&)> setup)
    : path_(std::move(path)), setup_(std::move(setup)) {
  // Open once now, so that a bad path fails at start-up rather than at the first call.
  auto first = std::make_unique<SqliteHandle>(path_);
  setup_(*first);
  release(std::move(first));
}

SqlitePool::Lease SqlitePool::acquire() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      auto handle = std::move(idle_.back());
      idle_.pop_back();
      return Lease(*this, std::move(handle));
    }
  }
  auto handle = std::make_unique<SqliteHandle>(path_);
  setup_(*handle);
  return Lease(*this, std::move(handle));
}

void SqlitePool::release(std::unique_ptr<SqliteHandle> handle) {
  if (!handle) return;
  std::lock_guard lock(mutex_);
  idle_.push_back(std::move(handle));
}

}  // namespace isolated::storage
