// Generating asymmetric key pairs: RSA (any modulus length OpenSSL accepts, up to a bound),
// EC on the NIST curves, Ed25519 and X25519.
#pragma once

#include <string_view>

#include "worker/subtle/crypto_result.h"
#include "worker/subtle/openssl_ptr.h"

namespace isolated::worker::subtle {

// Generation runs on the worker's thread, where a CPU-limit termination cannot interrupt it;
// this bounds the time one call can take (a 4096-bit key takes well under a second).
constexpr int kMaxGeneratedModulusBits = 4096;

// kind is "RSA", "EC", "Ed25519" or "X25519"; curve is used for EC, modulusLength and
// publicExponent (big-endian) for RSA.
Result<PkeyPtr> generateKeyPair(std::string_view kind, std::string_view curve, int modulusLength,
                                ByteView publicExponent);

}  // namespace isolated::worker::subtle
