// RAII for libpq with a hard deadline on every operation, and a pool of connections.
//
// Each call runs on a storage thread (never the supervisor's loop) with libpq's asynchronous
// API: PQconnectStart/PQconnectPoll and PQsendQueryParams/PQconsumeInput, waiting in poll()
// for the socket until the operation's deadline. So a PostgreSQL that is down, unreachable or
// hung costs a caller at most the timeout, then a StorageError that says which server and
// what happened; a connection that timed out is dropped (never reused half-way through).
// Threading: a PgConnection is used by one thread at a time; PgPool is thread-safe.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "supervisor/storage/storage_error.h"

namespace isolated::storage {

struct PgResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

// One parameter: NULL, text (the server infers its type) or bytea bytes.
struct PgParam {
  std::optional<std::string> value;
  bool bytea = false;
};

class PgConnection {
 public:
  using Clock = std::chrono::steady_clock;
  // Connects to `url` (a postgres:// or postgresql:// URL, or key=value conninfo) before
  // `deadline`; throws StorageError on failure.
  PgConnection(const std::string& url, Clock::time_point deadline);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs one statement with parameters; returns its result (tuples or command status).
  // Throws StorageError with the server's message on an SQL error, or on the deadline.
  PgResult query(const std::string& sql, const std::vector<PgParam>& params,
                 Clock::time_point deadline);
  // Runs `sql` (several statements allowed, no parameters); returns how many results came.
  uint32_t execAll(const std::string& sql, Clock::time_point deadline);
  // Checks an idle connection without blocking: false once the server has closed it.
  bool stillOpen();
  // The libpq handle, for a caller that watches the socket itself (the registry's LISTEN
  // connection, read with PQconsumeInput/PQnotifies on the event loop; non-blocking mode).
  PGconn* native() const { return conn_; }
  // Reusable: connected, not broken by a timeout, and outside any transaction.
  bool healthy() const {
    return PQstatus(conn_) == CONNECTION_OK && !broken_ &&
           PQtransactionStatus(conn_) == PQTRANS_IDLE;
  }

 private:
  // Waits for the socket (read, and write while libpq has output) until `deadline`.
  void wait(bool forWrite, Clock::time_point deadline, const char* what);
  // Sends what libpq buffered, then collects every result of the current query.
  std::vector<PgResult> collect(Clock::time_point deadline);

  PGconn* conn_ = nullptr;
  bool broken_ = false;
  std::string where_;  // host/socket and database, for messages
};

class PgPool {
 public:
  PgPool(std::string url, std::chrono::milliseconds timeout);

  class Lease {
   public:
    Lease(PgPool& pool, std::unique_ptr<PgConnection> conn) : pool_(pool), conn_(std::move(conn)) {}
    ~Lease() { pool_.release(std::move(conn_)); }
    // Moving hands the connection over; the moved-from lease releases nothing.
    Lease(Lease&& other) noexcept : pool_(other.pool_), conn_(std::move(other.conn_)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    PgConnection* operator->() const { return conn_.get(); }

   private:
    PgPool& pool_;
    std::unique_ptr<PgConnection> conn_;
  };
  // A healthy connection (an idle one, or a new one made within the timeout). For a while
  // after a failed connect (kRetryAfter), throws at once with that failure instead of trying
  // again: when the database is down, the calls queued behind one another fail in turn
  // quickly instead of each waiting out its own timeout.
  Lease acquire();
  static constexpr std::chrono::milliseconds kRetryAfter{1000};
  PgConnection::Clock::time_point deadline() const { return PgConnection::Clock::now() + timeout_; }

 private:
  void release(std::unique_ptr<PgConnection> conn);

  std::string url_;
  std::chrono::milliseconds timeout_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<PgConnection>> idle_;
  // The last failed connect (under mutex_).
  std::optional<PgConnection::Clock::time_point> failedAt_;
  std::string failure_;
};

// Decodes a bytea column in text format ("\x0a1b...").
std::string pgDecodeBytea(const char* text, size_t length);

}  // namespace isolated::storage
