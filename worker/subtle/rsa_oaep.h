// RSA-OAEP encryption (RFC 8017) with MGF1 over the same hash, as WebCrypto specifies.
#pragma once

#include <openssl/evp.h>

#include <string_view>

#include "worker/subtle/crypto_result.h"

namespace isolated::worker::subtle {

// Encrypts with a public key or decrypts with a private key. Too long a plaintext or a
// ciphertext that does not decrypt is an OperationError.
Result<Bytes> rsaOaep(bool encrypt, std::string_view hash, EVP_PKEY* key, ByteView label,
                      ByteView data);

}  // namespace isolated::worker::subtle
