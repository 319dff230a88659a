// D1 on PostgreSQL: placeholder mapping, JSON parameters, typed results, one transaction per
// batch.
#include "supervisor/storage/pg_database.h"

#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace isolated::storage {

namespace {

// PostgreSQL type oids (pg_type.dat).
constexpr Oid kBool = 16, kBytea = 17, kInt8 = 20, kInt2 = 21, kInt4 = 23, kOid = 26, kFloat4 = 700,
              kFloat8 = 701;

bool hasDollarPlaceholders(const std::string& sql) {
  for (size_t i = 0; i + 1 < sql.size(); ++i) {
    if (sql[i] == '$' && std::isdigit(static_cast<unsigned char>(sql[i + 1])) &&
        (i == 0 || !std::isalnum(static_cast<unsigned char>(sql[i - 1])))) {
      return true;
    }
  }
  return false;
}

PgParam toParam(const nlohmann::json& value, size_t index) {
  if (value.is_null()) return {};
  if (value.is_boolean()) return {value.get<bool>() ? "1" : "0", false};
  if (value.is_number_integer()) return {std::to_string(value.get<int64_t>()), false};
  if (value.is_number()) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.17g", value.get<double>());
    return {std::string(buffer), false};
  }
  if (value.is_string()) return {value.get<std::string>(), false};
  if (value.is_object() && value.contains("bytes") && value["bytes"].is_array()) {
    std::string bytes;
    for (const auto& byte : value["bytes"])
      bytes.push_back(static_cast<char>(byte.get<int>()));
    return {bytes, true};
  }
  throw StorageError("D1_TYPE_ERROR: parameter " + std::to_string(index + 1) +
                     " has an unsupported type");
}

nlohmann::json cell(PGresult* result, int row, int column) {
  if (PQgetisnull(result, row, column)) return nullptr;
  const char* text = PQgetvalue(result, row, column);
  size_t length = static_cast<size_t>(PQgetlength(result, row, column));
  switch (PQftype(result, column)) {
    case kInt2:
    case kInt4:
    case kInt8:
    case kOid: {
      int64_t value = 0;
      std::from_chars(text, text + length, value);
      return value;
    }
    case kFloat4:
    case kFloat8:
      return std::strtod(text, nullptr);
    case kBool:
      return text[0] == 't';
    case kBytea: {
      nlohmann::json bytes = nlohmann::json::array();
      for (unsigned char byte : pgDecodeBytea(text, length))
        bytes.push_back(byte);
      return bytes;
    }
    default:
      return std::string(text, length);
  }
}

SqlResult toResult(PGresult* result, double durationMs, size_t& resultBytes) {
  SqlResult out;
  int columns = PQnfields(result);
  for (int i = 0; i < columns; ++i)
    out.columns.emplace_back(PQfname(result, i));
  int rows = PQntuples(result);
  for (int row = 0; row < rows; ++row) {
    nlohmann::json values = nlohmann::json::array();
    for (int column = 0; column < columns; ++column) {
      values.push_back(cell(result, row, column));
      resultBytes += static_cast<size_t>(PQgetlength(result, row, column)) + 8;
    }
    if (resultBytes > kSqlMaxResultBytes) {
      throw StorageError("D1_ERROR: the result is over " +
                         std::to_string(kSqlMaxResultBytes >> 20) + " MiB");
    }
    out.rows.push_back(std::move(values));
  }
  const char* tuples = PQcmdTuples(result);
  bool isSelect = PQresultStatus(result) == PGRES_TUPLES_OK &&
                  std::string(PQcmdStatus(result)).rfind("SELECT", 0) == 0;
  out.changes = isSelect || tuples[0] == '\0' ? 0 : std::strtoll(tuples, nullptr, 10);
  out.rowsRead = rows;
  out.rowsWritten = out.changes;
  out.durationMs = durationMs;
  return out;
}

}  // namespace

std::string pgPlaceholders(const std::string& sql) {
  if (hasDollarPlaceholders(sql)) return sql;
  std::string out;
  out.reserve(sql.size() + 8);
  int next = 0;
  size_t i = 0;
  auto copyUntil = [&](const std::string& end) {
    size_t stop = sql.find(end, i);
    stop = stop == std::string::npos ? sql.size() : stop + end.size();
    out.append(sql, i, stop - i);
    i = stop;
  };
  while (i < sql.size()) {
    char c = sql[i];
    if (c == '\'' || c == '"') {
      // Literal or quoted identifier; a doubled quote inside is an escaped quote, which the
      // scan handles as the end of one literal and the start of the next.
      out.push_back(c);
      ++i;
      copyUntil(std::string(1, c));
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      copyUntil("\n");
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      out += "/*";
      i += 2;
      copyUntil("*/");
    } else if (c == '$' && (i == 0 || !std::isalnum(static_cast<unsigned char>(sql[i - 1])))) {
      // A dollar quote: $tag$ ... $tag$ (the tag may be empty).
      size_t close = sql.find('$', i + 1);
      bool tag = close != std::string::npos;
      for (size_t k = i + 1; tag && k < close; ++k) {
        tag = std::isalnum(static_cast<unsigned char>(sql[k])) || sql[k] == '_';
      }
      if (!tag) {
        out.push_back(c);
        ++i;
        continue;
      }
      std::string delimiter = sql.substr(i, close - i + 1);
      out += delimiter;
      i = close + 1;
      copyUntil(delimiter);
    } else if (c == '?') {
      size_t digits = i + 1;
      while (digits < sql.size() && std::isdigit(static_cast<unsigned char>(sql[digits]))) {
        ++digits;
      }
      if (digits > i + 1) {
        out += "$" + sql.substr(i + 1, digits - i - 1);
      } else {
        out += "$" + std::to_string(++next);
      }
      i = digits;
    } else {
      out.push_back(c);
      ++i;
    }
  }
  return out;
}

PgDatabase::PgDatabase(std::string url, std::chrono::milliseconds timeout)
    : pool_(std::move(url), timeout) {}

std::vector<SqlResult> PgDatabase::batch(const std::vector<SqlStatement>& statements) {
  checkSqlBatch(statements);
  auto conn = pool_.acquire();
  auto deadline = pool_.deadline();
  bool single = statements.size() == 1;
  std::vector<SqlResult> results;
  size_t resultBytes = 0;
  if (!single) conn->query("BEGIN", {}, deadline);
  try {
    for (const auto& statement : statements) {
      std::vector<PgParam> params;
      for (size_t i = 0; i < statement.params.size(); ++i) {
        params.push_back(toParam(statement.params[i], i));
      }
      auto started = std::chrono::steady_clock::now();
      auto result = conn->query(pgPlaceholders(statement.sql), params, deadline);
      double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
              .count();
      results.push_back(toResult(result.get(), ms, resultBytes));
    }
    if (!single) conn->query("COMMIT", {}, deadline);
  } catch (...) {
    if (!single && conn->healthy() == false) {
      try {
        conn->query("ROLLBACK", {}, deadline);
      } catch (const StorageError&) {
        // The connection is unusable; the pool drops it.
      }
    }
    throw;
  }
  return results;
}

uint32_t PgDatabase::exec(const std::string& sql) {
  if (sql.size() > kSqlMaxTextBytes) {
    throw StorageError("D1: exec() takes at most " + std::to_string(kSqlMaxTextBytes >> 10) +
                       " KiB of SQL");
  }
  auto conn = pool_.acquire();
  uint32_t count = conn->execAll(sql, pool_.deadline());
  if (!conn->healthy()) {
    try {
      conn->query("ROLLBACK", {}, pool_.deadline());
    } catch (const StorageError&) {
    }
    throw StorageError("D1: exec() left a transaction open; it was rolled back");
  }
  return count;
}

}  // namespace isolated::storage
