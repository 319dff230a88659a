// D1 on SQLite: binding JSON parameters, reading rows as JSON, one transaction per batch.
#include "supervisor/storage/sqlite_database.h"

#include <chrono>

namespace isolated::storage {

namespace {

void bindParam(SqliteStatement& statement, int index, const nlohmann::json& value) {
  sqlite3_stmt* stmt = statement.get();
  int rc = SQLITE_OK;
  if (value.is_null()) {
    rc = sqlite3_bind_null(stmt, index);
  } else if (value.is_boolean()) {
    rc = sqlite3_bind_int64(stmt, index, value.get<bool>() ? 1 : 0);
  } else if (value.is_number_integer()) {
    rc = sqlite3_bind_int64(stmt, index, value.get<int64_t>());
  } else if (value.is_number()) {
    rc = sqlite3_bind_double(stmt, index, value.get<double>());
  } else if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    rc = sqlite3_bind_text64(stmt, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  } else if (value.is_object() && value.contains("bytes") && value["bytes"].is_array()) {
    std::string bytes;
    for (const auto& byte : value["bytes"])
      bytes.push_back(static_cast<char>(byte.get<int>()));
    statement.bindBlob(index, bytes);
    return;
  } else {
    throw StorageError("D1_TYPE_ERROR: parameter " + std::to_string(index) +
                       " has an unsupported type");
  }
  if (rc != SQLITE_OK) {
    throw StorageError(std::string("bind: ") + sqlite3_errmsg(sqlite3_db_handle(stmt)));
  }
}

nlohmann::json columnValue(sqlite3_stmt* stmt, int index) {
  switch (sqlite3_column_type(stmt, index)) {
    case SQLITE_INTEGER:
      return sqlite3_column_int64(stmt, index);
    case SQLITE_FLOAT:
      return sqlite3_column_double(stmt, index);
    case SQLITE_TEXT:
      return std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, index)),
                         static_cast<size_t>(sqlite3_column_bytes(stmt, index)));
    case SQLITE_BLOB: {
      auto* data = static_cast<const unsigned char*>(sqlite3_column_blob(stmt, index));
      nlohmann::json bytes = nlohmann::json::array();
      for (int i = 0; i < sqlite3_column_bytes(stmt, index); ++i)
        bytes.push_back(data[i]);
      return bytes;
    }
    default:
      return nullptr;
  }
}

SqlResult run(SqliteHandle& db, const SqlStatement& input, size_t& resultBytes) {
  auto started = std::chrono::steady_clock::now();
  SqliteStatement statement(db, input.sql);
  sqlite3_stmt* stmt = statement.get();
  int expected = sqlite3_bind_parameter_count(stmt);
  if (static_cast<size_t>(expected) != input.params.size()) {
    throw StorageError("D1_ERROR: the statement has " + std::to_string(expected) +
                       " parameters but " + std::to_string(input.params.size()) +
                       " values were bound");
  }
  for (size_t i = 0; i < input.params.size(); ++i) {
    bindParam(statement, static_cast<int>(i + 1), input.params[i]);
  }
  SqlResult result;
  int columns = sqlite3_column_count(stmt);
  for (int i = 0; i < columns; ++i)
    result.columns.emplace_back(sqlite3_column_name(stmt, i));
  int64_t changesBefore = sqlite3_total_changes64(db.get());
  while (statement.step()) {
    nlohmann::json row = nlohmann::json::array();
    for (int i = 0; i < columns; ++i) {
      row.push_back(columnValue(stmt, i));
      resultBytes += static_cast<size_t>(sqlite3_column_bytes(stmt, i)) + 8;
    }
    if (resultBytes > kSqlMaxResultBytes) {
      throw StorageError("D1_ERROR: the result is over " +
                         std::to_string(kSqlMaxResultBytes >> 20) + " MiB");
    }
    result.rows.push_back(std::move(row));
  }
  bool writes = sqlite3_stmt_readonly(stmt) == 0;
  result.changes = writes ? sqlite3_total_changes64(db.get()) - changesBefore : 0;
  result.lastRowId = sqlite3_last_insert_rowid(db.get());
  // SQLite counts the rows its virtual machine stepped over in full scans and sorts; D1 reports
  // rows read: the rows returned plus those scanned.
  result.rowsRead = static_cast<int64_t>(result.rows.size()) +
                    sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_FULLSCAN_STEP, 0);
  result.rowsWritten = result.changes;
  result.durationMs =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  return result;
}

}  // namespace

namespace {

// The script's SQL may not reach other files: ATTACH (and VACUUM INTO, which attaches its
// target) is refused, and defensive mode forbids writes that could corrupt the database file
// (writable_schema, direct shadow-table writes). load_extension() stays off, SQLite's default.
int refuseAttach(void*, int action, const char*, const char*, const char*, const char*) {
  return action == SQLITE_ATTACH || action == SQLITE_DETACH ? SQLITE_DENY : SQLITE_OK;
}

void harden(SqliteHandle& db) {
  sqlite3_limit(db.get(), SQLITE_LIMIT_ATTACHED, 0);
  sqlite3_set_authorizer(db.get(), refuseAttach, nullptr);
  sqlite3_db_config(db.get(), SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
}

}  // namespace

SqliteDatabase::SqliteDatabase(const std::string& path) : pool_(path, harden) {}

std::vector<SqlResult> SqliteDatabase::batch(const std::vector<SqlStatement>& statements) {
  checkSqlBatch(statements);
  auto db = pool_.acquire();
  std::vector<SqlResult> results;
  size_t resultBytes = 0;
  bool single = statements.size() == 1;
  // One statement is its own (implicit) transaction; a batch gets an explicit one.
  if (!single) db->exec("BEGIN IMMEDIATE");
  try {
    for (const auto& statement : statements)
      results.push_back(run(*db, statement, resultBytes));
    if (!single) db->exec("COMMIT");
    if (sqlite3_get_autocommit(db->get()) == 0) {
      throw StorageError("D1: a statement left a transaction open; it was rolled back");
    }
  } catch (...) {
    if (sqlite3_get_autocommit(db->get()) == 0) {
      sqlite3_exec(db->get(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
    throw;
  }
  return results;
}

uint32_t SqliteDatabase::exec(const std::string& sql) {
  if (sql.size() > kSqlMaxTextBytes) {
    throw StorageError("D1: exec() takes at most " + std::to_string(kSqlMaxTextBytes >> 10) +
                       " KiB of SQL");
  }
  auto db = pool_.acquire();
  uint32_t count = 0;
  const char* rest = sql.c_str();
  while (*rest != '\0') {
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    if (sqlite3_prepare_v2(db->get(), rest, -1, &raw, &tail) != SQLITE_OK) {
      throw StorageError(sqlite3_errmsg(db->get()));
    }
    rest = tail;
    if (raw == nullptr) continue;  // whitespace or a comment
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, sqlite3_finalize);
    int rc;
    while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    }
    if (rc != SQLITE_DONE) throw StorageError(sqlite3_errmsg(db->get()));
    ++count;
  }
  // A script that left a transaction open would leave it open for the next user of this
  // connection: roll it back.
  if (sqlite3_get_autocommit(db->get()) == 0) {
    sqlite3_exec(db->get(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw StorageError("D1: exec() left a transaction open; it was rolled back");
  }
  return count;
}

}  // namespace isolated::storage
