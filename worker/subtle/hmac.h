// HMAC signatures (RFC 2104) and their constant-time verification.
#pragma once

#include <string_view>

#include "worker/subtle/crypto_result.h"

namespace isolated::worker::subtle {

Result<Bytes> hmacSign(std::string_view hash, ByteView key, ByteView data);

// True when `signature` is the HMAC of `data`; compared in constant time.
Result<bool> hmacVerify(std::string_view hash, ByteView key, ByteView data, ByteView signature);

}  // namespace isolated::worker::subtle
