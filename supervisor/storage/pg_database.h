// The SQL database binding on PostgreSQL: statements run on PostgreSQL itself, in its
// dialect (docs/bindings.md). D1 scripts write `?` and `?NNN` placeholders; these are mapped
// to PostgreSQL's `$n` / `$NNN` outside string literals, quoted identifiers, dollar quotes and
// comments. A statement that already uses `$n` placeholders is left alone, which is also the
// way to use jsonb's `?`, `?|` and `?&` operators.
// Results: integers as numbers, float4/float8 as numbers, booleans as true/false, bytea as
// arrays of byte values, everything else (numeric, dates, json...) as PostgreSQL's text.
// meta.last_row_id is always 0 (PostgreSQL has no rowid; use RETURNING).
// Threading: see SqlDatabase; connections come from a PgPool with a deadline on every call.
#pragma once

#include "supervisor/storage/pg_connection.h"
#include "supervisor/storage/sql_database.h"

namespace isolated::storage {

class PgDatabase : public SqlDatabase {
 public:
  PgDatabase(std::string url, std::chrono::milliseconds timeout);

  std::vector<SqlResult> batch(const std::vector<SqlStatement>& statements) override;
  uint32_t exec(const std::string& sql) override;

 private:
  PgPool pool_;
};

// `?` and `?NNN` placeholders to `$n` (see above). Exposed for tests.
std::string pgPlaceholders(const std::string& sql);

}  // namespace isolated::storage
