// Asymmetric keys as DER: parsing SubjectPublicKeyInfo (spki) and PKCS #8 PrivateKeyInfo
// (pkcs8), encoding them back, and describing what a key is. JavaScript keeps every
// asymmetric CryptoKey's material as one of these two encodings (pkcs8 for private keys, spki
// for public ones) and the other primitives re-create the EVP_PKEY from it per operation.
#pragma once

#include <openssl/evp.h>

#include <string>

#include "worker/subtle/crypto_result.h"
#include "worker/subtle/openssl_ptr.h"

namespace isolated::worker::subtle {

// Everything JavaScript must know to check an imported key against the algorithm it was
// imported for.
struct KeyDescription {
  std::string kind;       // "RSA", "EC", "Ed25519", "X25519", or "" when unsupported
  std::string curve;      // "P-256", "P-384", "P-521" for EC keys
  int modulusLength = 0;  // bits, for RSA keys
  Bytes publicExponent;   // big-endian, for RSA keys
};

// Parse a whole DER encoding; trailing bytes or a malformed structure are a DataError.
Result<PkeyPtr> parseSpki(ByteView der);
Result<PkeyPtr> parsePkcs8(ByteView der);

Result<Bytes> encodeSpki(EVP_PKEY* key);
Result<Bytes> encodePkcs8(EVP_PKEY* key);

KeyDescription describeKey(EVP_PKEY* key);

// The OpenSSL group name of a WebCrypto curve name; nullptr if not supported.
const char* groupForCurve(std::string_view curve);
// The coordinate size in bytes of a supported curve (32, 48, 66); 0 otherwise.
size_t coordinateSize(std::string_view curve);

}  // namespace isolated::worker::subtle
