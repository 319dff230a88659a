// The one error type of the storage backends, and the limits every backend enforces.
//
// Backends report failure by throwing StorageError with a message meant for the script (it
// becomes the rejection's message): it says what went wrong and, for a limit, which limit.
// Nothing else is thrown on purpose; the executor turns any other exception into a StorageError
// message too, so a backend bug never takes the supervisor down.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace isolated::storage {

class StorageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The backend itself failed (a database down or not answering in time, a file it cannot
// open), as opposed to the script asking for something wrong: the supervisor also logs these.
class StorageUnavailable : public StorageError {
 public:
  using StorageError::StorageError;
};

// Cloudflare's documented KV limits.
inline constexpr size_t kKvMaxKeyBytes = 512;
inline constexpr size_t kKvMaxMetadataBytes = 1024;
inline constexpr size_t kKvMaxValueBytes = 25u << 20;
inline constexpr uint32_t kKvMaxListLimit = 1000;
// R2: keys up to 1024 bytes, custom metadata up to 2 KiB; objects here are bounded by the IPC
// frame (a value rides in one message, see ipc/protocol.h), so by the KV value limit too.
inline constexpr size_t kObjectMaxKeyBytes = 1024;
inline constexpr size_t kObjectMaxMetadataBytes = 2048;
inline constexpr size_t kObjectMaxValueBytes = kKvMaxValueBytes;
inline constexpr uint32_t kObjectMaxListLimit = 1000;
// D1: statements per batch, SQL text, bound parameters per statement.
inline constexpr size_t kSqlMaxStatements = 1000;
inline constexpr size_t kSqlMaxTextBytes = 100u << 10;
inline constexpr size_t kSqlMaxParams = 100;
// The largest result a SQL call may return (rows serialised as JSON); bounded by the frame.
inline constexpr size_t kSqlMaxResultBytes = 32u << 20;

}  // namespace isolated::storage
