// RAII for SQLite: one connection (SqliteHandle) and one prepared statement (SqliteStatement),
// and a small pool of connections for the storage threads.
//
// A connection is opened in WAL mode with a busy timeout, so that readers never wait for the
// writer and concurrent writers (other threads, other processes on the same file) wait their
// turn instead of failing at once. Errors throw StorageError with SQLite's message.
// Threading: a handle is used by one thread at a time (SQLite's multi-thread mode); the pool
// hands each calling thread a handle of its own.
#pragma once

#include <sqlite3.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "supervisor/storage/storage_error.h"

namespace isolated::storage {

class SqliteHandle {
 public:
  // Opens (creating) the database file at `path` and runs `setup` once per connection.
  explicit SqliteHandle(const std::string& path);
  ~SqliteHandle();
  SqliteHandle(const SqliteHandle&) = delete;
  SqliteHandle& operator=(const SqliteHandle&) = delete;

  sqlite3* get() const { return db_; }
  // Runs SQL without results (several statements allowed); throws on error.
  void exec(const std::string& sql);
  // Throws StorageError("<what>: <sqlite message>") when `rc` is an error code.
  void check(int rc, const char* what) const;
  // The connection's prepared statement for `sql`, prepared on first use and kept (for the
  // backends' fixed statements; never for a script's SQL, whose variety is unbounded).
  sqlite3_stmt* cached(const std::string& sql);

 private:
  struct StatementDeleter {
    void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
  };
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, std::unique_ptr<sqlite3_stmt, StatementDeleter>> statements_;
};

// One statement in use: either prepared for this use and finalized after it, or (`cached`)
// borrowed from the connection's cache and reset after it.
class SqliteStatement {
 public:
  SqliteStatement(const SqliteHandle& db, const std::string& sql);
  struct Cached {};
  SqliteStatement(SqliteHandle& db, const std::string& sql, Cached);
  ~SqliteStatement();
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  sqlite3_stmt* get() const { return stmt_; }
  void bindText(int index, const std::string& text);
  void bindBlob(int index, const std::string& bytes);
  void bindInt(int index, int64_t value);
  // SQLITE_ROW -> true, SQLITE_DONE -> false, anything else throws.
  bool step();
  std::string columnBytes(int index) const;
  int64_t columnInt(int index) const { return sqlite3_column_int64(stmt_, index); }

 private:
  const SqliteHandle& db_;
  sqlite3_stmt* stmt_ = nullptr;
  bool cached_ = false;
};

// Connections to one database file, created on demand and reused. `setup` runs on each new
// connection (schema creation; idempotent).
class SqlitePool {
 public:
  SqlitePool(std::string path, std::function<void(SqliteHandle&)> setup);

  // A connection for the calling thread's exclusive use until the Lease goes.
  class Lease {
   public:
    Lease(SqlitePool& pool, std::unique_ptr<SqliteHandle> handle)
        : pool_(pool), handle_(std::move(handle)) {}
    ~Lease() { pool_.release(std::move(handle_)); }
    // Moving hands the connection over; the moved-from lease releases nothing.
    Lease(Lease&& other) noexcept : pool_(other.pool_), handle_(std::move(other.handle_)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    SqliteHandle& operator*() const { return *handle_; }
    SqliteHandle* operator->() const { return handle_.get(); }

   private:
    SqlitePool& pool_;
    std::unique_ptr<SqliteHandle> handle_;
  };
  Lease acquire();

 private:
  void release(std::unique_ptr<SqliteHandle> handle);

  std::string path_;
  std::function<void(SqliteHandle&)> setup_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<SqliteHandle>> idle_;
};

}  // namespace isolated::storage
