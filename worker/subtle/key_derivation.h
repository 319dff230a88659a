// Key derivation: PBKDF2 (RFC 8018), HKDF (RFC 5869) and ECDH / X25519 shared secrets.
#pragma once

#include <openssl/evp.h>
#include <cstdint>

#include <string_view>

#include "worker/subtle/crypto_result.h"

namespace isolated::worker::subtle {

// PBKDF2 runs on the worker's thread, where a CPU-limit termination cannot interrupt it, so
// its work is bounded: at most this many iterations (Cloudflare Workers' limit too) ...
constexpr uint32_t kMaxPbkdf2Iterations = 100000;
// ... and at most this many HMAC computations in all (iterations x output blocks).
constexpr uint64_t kMaxPbkdf2Work = uint64_t{1} << 21;

Result<Bytes> pbkdf2(std::string_view hash, ByteView password, ByteView salt, uint32_t iterations,
                     size_t length);

Result<Bytes> hkdf(std::string_view hash, ByteView key, ByteView salt, ByteView info,
                   size_t length);

// The full shared secret of a private key and a public key of the same type.
Result<Bytes> deriveSharedSecret(EVP_PKEY* privateKey, EVP_PKEY* publicKey);

}  // namespace isolated::worker::subtle
