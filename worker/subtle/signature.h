// Asymmetric signatures: ECDSA (IEEE P1363 r||s encoding, as WebCrypto specifies), Ed25519,
// RSASSA-PKCS1-v1_5 and RSA-PSS, with a private key to sign and a public key to verify.
#pragma once

#include <openssl/evp.h>

#include <string_view>

#include "worker/subtle/crypto_result.h"

namespace isolated::worker::subtle {

struct SignatureScheme {
  std::string_view kind;  // "ECDSA", "Ed25519", "RSASSA-PKCS1-v1_5" or "RSA-PSS"
  std::string_view hash;  // WebCrypto hash name; unused for Ed25519
  int saltLength = 0;     // bytes, RSA-PSS only
};

Result<Bytes> sign(const SignatureScheme& scheme, EVP_PKEY* privateKey, ByteView data);

// False (not an error) for a signature that does not verify, including a malformed one.
Result<bool> verify(const SignatureScheme& scheme, EVP_PKEY* publicKey, ByteView signature,
                    ByteView data);

}  // namespace isolated::worker::subtle
