// libpq's asynchronous API driven with poll() against a deadline, on a storage thread.
#include "supervisor/storage/pg_connection.h"

#include <poll.h>

#include <cerrno>
#include <cstring>

namespace isolated::storage {

namespace {

int remainingMs(PgConnection::Clock::time_point deadline) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - PgConnection::Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

std::string trimmed(const char* message) {
  std::string text = message != nullptr ? message : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
    text.pop_back();
  return text;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 0;
}

}  // namespace

std::string pgDecodeBytea(const char* text, size_t length) {
  std::string out;
  if (length >= 2 && text[0] == '\\' && text[1] == 'x') {
    out.reserve((length - 2) / 2);
    for (size_t i = 2; i + 1 < length; i += 2) {
      out.push_back(static_cast<char>(hexValue(text[i]) * 16 + hexValue(text[i + 1])));
    }
    return out;
  }
  size_t size = 0;
  unsigned char* raw = PQunescapeBytea(reinterpret_cast<const unsigned char*>(text), &size);
  if (raw != nullptr) {
    out.assign(reinterpret_cast<char*>(raw), size);
    PQfreemem(raw);
  }
  return out;
}

PgConnection::PgConnection(const std::string& url, Clock::time_point deadline) {
  conn_ = PQconnectStart(url.c_str());
  if (conn_ == nullptr) throw StorageError("PostgreSQL: out of memory");
  if (PQstatus(conn_) == CONNECTION_BAD) {
    std::string message = trimmed(PQerrorMessage(conn_));
    PQfinish(conn_);
    conn_ = nullptr;
    throw StorageUnavailable("PostgreSQL: cannot connect: " + message);
  }
  PostgresPollingStatusType status = PGRES_POLLING_WRITING;
  while (status != PGRES_POLLING_OK) {
    if (status == PGRES_POLLING_FAILED) {
      std::string message = trimmed(PQerrorMessage(conn_));
      PQfinish(conn_);
      conn_ = nullptr;
      throw StorageUnavailable("PostgreSQL: cannot connect: " + message);
    }
    pollfd fd{PQsocket(conn_),
              static_cast<short>(status == PGRES_POLLING_READING ? POLLIN : POLLOUT), 0};
    int left = remainingMs(deadline);
    int ready = left > 0 ? ::poll(&fd, 1, left) : 0;
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      PQfinish(conn_);
      conn_ = nullptr;
      throw StorageUnavailable("PostgreSQL: cannot connect: no answer within the storage timeout");
    }
    status = PQconnectPoll(conn_);
  }
  PQsetnonblocking(conn_, 1);
  // Notices (such as "relation already exists, skipping") would go to the supervisor's
  // stderr unformatted; they are not errors, so they are dropped.
  PQsetNoticeProcessor(
      conn_, [](void*, const char*) {}, nullptr);
  const char* host = PQhost(conn_);
  const char* db = PQdb(conn_);
  where_ = std::string(host != nullptr ? host : "?") + "/" + (db != nullptr ? db : "?");
}

bool PgConnection::stillOpen() {
  // An idle connection has nothing to read unless the server closed it (a restart, an idle
  // timeout) or sent a notice; reading that now spares the next query a failure.
  pollfd fd{PQsocket(conn_), POLLIN, 0};
  if (::poll(&fd, 1, 0) > 0 && PQconsumeInput(conn_) == 0) broken_ = true;
  return healthy();
}

PgConnection::~PgConnection() {
  PQfinish(conn_);
}

void PgConnection::wait(bool forWrite, Clock::time_point deadline, const char* what) {
  while (true) {
    pollfd fd{PQsocket(conn_), static_cast<short>(POLLIN | (forWrite ? POLLOUT : 0)), 0};
    int left = remainingMs(deadline);
    int ready = left > 0 ? ::poll(&fd, 1, left) : 0;
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      broken_ = true;
      throw StorageUnavailable(std::string("PostgreSQL (") + where_ + "): no answer within the " +
                               "storage timeout while " + what);
    }
    return;
  }
}

std::vector<PgResult> PgConnection::collect(Clock::time_point deadline) {
  // Flush the query out.
  while (true) {
    int flushed = PQflush(conn_);
    if (flushed == 0) break;
    if (flushed < 0) {
      broken_ = true;
      throw StorageUnavailable("PostgreSQL (" + where_ + "): " + trimmed(PQerrorMessage(conn_)));
    }
    wait(true, deadline, "sending");
    if (PQconsumeInput(conn_) == 0) {
      broken_ = true;
      throw StorageUnavailable("PostgreSQL (" + where_ + "): " + trimmed(PQerrorMessage(conn_)));
    }
  }
  std::vector<PgResult> results;
  while (true) {
    while (PQisBusy(conn_) != 0) {
      wait(false, deadline, "waiting for the result");
      if (PQconsumeInput(conn_) == 0) {
        broken_ = true;
        throw StorageUnavailable("PostgreSQL (" + where_ + "): " + trimmed(PQerrorMessage(conn_)));
      }
    }
    PGresult* result = PQgetResult(conn_);
    if (result == nullptr) break;
    results.emplace_back(result);
  }
  if (PQstatus(conn_) != CONNECTION_OK) {
    broken_ = true;
    throw StorageUnavailable("PostgreSQL (" + where_ + "): " + trimmed(PQerrorMessage(conn_)));
  }
  for (const auto& result : results) {
    ExecStatusType status = PQresultStatus(result.get());
    if (status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE ||
        status == PGRES_NONFATAL_ERROR) {
      const char* primary = PQresultErrorField(result.get(), PG_DIAG_MESSAGE_PRIMARY);
      const char* state = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
      std::string sqlstate = state != nullptr ? state : "";
      // No SQLSTATE: libpq's own error (the connection broke). Class 08 and 57P0x: the
      // connection or the server went away (shutdown, restart). Those are the backend failing,
      // not the script's SQL.
      if (sqlstate.empty() || sqlstate.rfind("08", 0) == 0 || sqlstate.rfind("57P0", 0) == 0) {
        broken_ = true;
        throw StorageUnavailable("PostgreSQL (" + where_ +
                                 "): " + trimmed(PQresultErrorMessage(result.get())));
      }
      throw StorageError(primary != nullptr ? primary
                                            : trimmed(PQresultErrorMessage(result.get())));
    }
  }
  return results;
}

PgResult PgConnection::query(const std::string& sql, const std::vector<PgParam>& params,
                             Clock::time_point deadline) {
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
  std::vector<Oid> types;
  for (const auto& param : params) {
    values.push_back(param.value ? param.value->data() : nullptr);
    lengths.push_back(param.value ? static_cast<int>(param.value->size()) : 0);
    formats.push_back(param.bytea ? 1 : 0);
    types.push_back(param.bytea ? 17 : 0);  // 17: bytea; 0: inferred by the server
  }
  if (PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(params.size()), types.data(),
                        values.data(), lengths.data(), formats.data(), 0) == 0) {
    broken_ = true;
    throw StorageUnavailable("PostgreSQL (" + where_ + "): " + trimmed(PQerrorMessage(conn_)));
  }
  auto results = collect(deadline);
  if (results.empty()) throw StorageError("PostgreSQL: the statement returned no result");
  return std::move(results.back());
}

uint32_t PgConnection::execAll(const std::string& sql, Clock::time_point deadline) {
  if (PQsendQuery(conn_, sql.c_str()) == 0) {
    broken_ = true;
    throw StorageUnavailable("PostgreSQL (" + where_ + "): " + trimmed(PQerrorMessage(conn_)));
  }
  return static_cast<uint32_t>(collect(deadline).size());
}

PgPool::PgPool(std::string url, std::chrono::milliseconds timeout)
    : url_(std::move(url)), timeout_(timeout) {}

PgPool::Lease PgPool::acquire() {
  {
    std::lock_guard lock(mutex_);
    while (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      if (conn->healthy() && conn->stillOpen()) return Lease(*this, std::move(conn));
    }
    if (failedAt_ && PgConnection::Clock::now() - *failedAt_ < kRetryAfter) {
      throw StorageUnavailable(failure_ + " (not retried for a second)");
    }
  }
  try {
    auto conn = std::make_unique<PgConnection>(url_, deadline());
    std::lock_guard lock(mutex_);
    failedAt_.reset();
    return Lease(*this, std::move(conn));
  } catch (const StorageUnavailable& error) {
    std::lock_guard lock(mutex_);
    failedAt_ = PgConnection::Clock::now();
    failure_ = error.what();
    throw;
  }
}

void PgPool::release(std::unique_ptr<PgConnection> conn) {
  if (!conn || !conn->healthy()) return;
  std::lock_guard lock(mutex_);
  idle_.push_back(std::move(conn));
}

}  // namespace isolated::storage
