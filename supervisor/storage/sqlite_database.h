// The SQL database binding on SQLite: the script's statements run on the file as written
// (SQLite's dialect; `?`, `?NNN`, `:name` placeholders as SQLite has them).
// Threading: see SqlDatabase; each call takes a connection of its own from the pool, and a
// batch holds it for its whole transaction (BEGIN IMMEDIATE, so concurrent batches queue on
// the busy timeout instead of deadlocking on a lock upgrade).
#pragma once

#include "supervisor/storage/sql_database.h"
#include "supervisor/storage/sqlite_handle.h"

namespace isolated::storage {

class SqliteDatabase : public SqlDatabase {
 public:
  explicit SqliteDatabase(const std::string& path);

  std::vector<SqlResult> batch(const std::vector<SqlStatement>& statements) override;
  uint32_t exec(const std::string& sql) override;

 private:
  SqlitePool pool_;
};

}  // namespace isolated::storage
