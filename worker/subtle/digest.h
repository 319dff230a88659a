// SHA-1 and SHA-2 digests by their WebCrypto names, and the EVP_MD each name stands for (the
// other primitives take their hash parameter through hashByName).
#pragma once

#include <openssl/evp.h>

#include <string_view>

#include "worker/subtle/crypto_result.h"

namespace isolated::worker::subtle {

// "SHA-1", "SHA-256", "SHA-384" or "SHA-512" (already normalised by JavaScript); nullptr for
// anything else. The EVP_MD is static in OpenSSL and needs no freeing.
const EVP_MD* hashByName(std::string_view name);

Result<Bytes> digest(std::string_view hash, ByteView data);

}  // namespace isolated::worker::subtle
