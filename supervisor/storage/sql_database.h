// The SQL database binding's backend interface (what Cloudflare D1's API needs of an engine).
//
// The dialect is the engine's: SQLite's for a SQLite database, PostgreSQL's for PostgreSQL.
// Parameters and values are JSON: null, numbers (integers stay integers), strings, and blobs,
// written {"bytes": [0..255, ...]} as a parameter and returned as arrays of numbers (as D1
// does). Booleans bind as 1 / 0.
//
// Threading: implementations are safe to call from several threads at once; each call is
// synchronous. SQL errors throw StorageError with the engine's own message.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "supervisor/storage/storage_error.h"

namespace isolated::storage {

struct SqlStatement {
  std::string sql;
  nlohmann::json params = nlohmann::json::array();
};

struct SqlResult {
  std::vector<std::string> columns;
  nlohmann::json rows = nlohmann::json::array();  // an array of arrays, one per row
  int64_t changes = 0;
  int64_t lastRowId = 0;
  int64_t rowsRead = 0;
  int64_t rowsWritten = 0;
  double durationMs = 0;
};

class SqlDatabase {
 public:
  virtual ~SqlDatabase() = default;
  // Runs the statements in order in one transaction: all take effect or none (the first error
  // rolls back and is thrown). One statement runs the same way.
  virtual std::vector<SqlResult> batch(const std::vector<SqlStatement>& statements) = 0;
  // Runs `sql`, which may hold several statements separated by semicolons, without parameters
  // and outside any transaction of ours. Returns how many statements ran.
  virtual uint32_t exec(const std::string& sql) = 0;
};

// Checks shared by every backend.
void checkSqlBatch(const std::vector<SqlStatement>& statements);

}  // namespace isolated::storage
