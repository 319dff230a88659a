// Asymmetric keys as their components: the "raw" public key format (an uncompressed EC point
// or a 32-byte Ed25519/X25519 key) and the fields of a JSON Web Key (RFC 7517/7518/8037),
// passed as big-endian byte strings that JavaScript base64url-encodes and -decodes.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "worker/subtle/crypto_result.h"
#include "worker/subtle/openssl_ptr.h"

namespace isolated::worker::subtle {

// JWK members by name: "n", "e", "d", "p", "q", "dp", "dq", "qi" (RSA), "x", "y", "d" (EC),
// "x", "d" (OKP).
using JwkFields = std::map<std::string, Bytes, std::less<>>;

// kind is "EC" (with curve), "Ed25519" or "X25519". A point not on the curve is a DataError.
Result<PkeyPtr> importRawPublicKey(std::string_view kind, std::string_view curve, ByteView raw);
Result<Bytes> exportRawPublicKey(EVP_PKEY* key);

// Builds a key from JWK fields; a private key needs every private member and must match its
// public part, else DataError.
Result<PkeyPtr> importJwkKey(std::string_view kind, std::string_view curve, bool isPrivate,
                             const JwkFields& fields);

// Builds again a key that importJwkKey (or exportJwkKey of an imported key) has checked
// before, skipping the consistency checks. Much faster than parsing DER, which goes through
// OpenSSL 3.0's decoder framework: this is how every operation gets its EVP_PKEY.
Result<PkeyPtr> rebuildKey(std::string_view kind, std::string_view curve, bool isPrivate,
                           const JwkFields& fields);
Result<JwkFields> exportJwkKey(EVP_PKEY* key, bool isPrivate);

// The public and private halves of a key checked against each other (isPrivate), or the public
// key checked on its own (an RSA modulus and exponent, an EC point on its curve). RSA keys get
// BoringSSL's checks (the components agree), not OpenSSL's primality tests, which cost 50 ms
// of CPU per RSA-2048 private key (key_components.cc).
bool keyIsConsistent(EVP_PKEY* key, bool isPrivate);

// Makes an EC key encode its point uncompressed in spki, raw and JWK exports, whatever form
// it was imported in.
void useUncompressedPoints(EVP_PKEY* key);

}  // namespace isolated::worker::subtle
