// The value-or-error type every crypto.subtle primitive returns. The error carries the name
// of the exception JavaScript must see (a DOMException name such as "OperationError", or
// "TypeError") and a message; the bindings turn it into that exception.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace isolated::worker::subtle {

using Bytes = std::vector<uint8_t>;
using ByteView = std::basic_string_view<uint8_t>;

struct CryptoError {
  std::string name;
  std::string message;
};

template <typename T>
using Result = std::variant<T, CryptoError>;

inline CryptoError operationError(std::string message) {
  return {"OperationError", std::move(message)};
}
inline CryptoError dataError(std::string message) {
  return {"DataError", std::move(message)};
}
inline CryptoError notSupported(std::string message) {
  return {"NotSupportedError", std::move(message)};
}

inline ByteView viewOf(const Bytes& bytes) {
  return {bytes.data(), bytes.size()};
}

// A pointer OpenSSL accepts for a possibly empty buffer (some calls reject nullptr even with a
// zero length).
inline const uint8_t* dataOrEmpty(ByteView bytes) {
  static constexpr uint8_t kEmpty[1] = {0};
  return bytes.empty() ? kEmpty : bytes.data();
}

}  // namespace isolated::worker::subtle
