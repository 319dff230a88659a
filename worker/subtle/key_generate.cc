// Key pair generation: see key_generate.h.
#include "worker/subtle/key_generate.h"

#include <openssl/rsa.h>

#include <string>

#include "worker/subtle/key_der.h"

namespace isolated::worker::subtle {

namespace {

Result<PkeyPtr> generateRsa(int modulusLength, ByteView publicExponent) {
  if (modulusLength > kMaxGeneratedModulusBits) {
    return notSupported("RSA modulus lengths above " + std::to_string(kMaxGeneratedModulusBits) +
                        " bits are not supported for generation");
  }
  BignumPtr exponent(
      BN_bin2bn(dataOrEmpty(publicExponent), static_cast<int>(publicExponent.size()), nullptr));
  // OpenSSL accepts even exponents and 1 here; WebCrypto implementations accept 3 and 65537.
  if (!exponent || !BN_is_odd(exponent.get()) || BN_num_bits(exponent.get()) < 2 ||
      BN_num_bits(exponent.get()) > 32) {
    return operationError("RSA: the public exponent must be an odd number between 3 and 2^32");
  }
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), modulusLength) != 1 ||
      EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx.get(), exponent.get()) != 1 ||
      EVP_PKEY_generate(ctx.get(), &raw) != 1) {
    return operationError("RSA key generation failed (modulus length " +
                          std::to_string(modulusLength) + ")");
  }
  return PkeyPtr(raw);
}

}  // namespace

Result<PkeyPtr> generateKeyPair(std::string_view kind, std::string_view curve, int modulusLength,
                                ByteView publicExponent) {
  if (kind == "RSA") return generateRsa(modulusLength, publicExponent);
  PkeyPtr key;
  if (kind == "EC") {
    const char* group = groupForCurve(curve);
    if (!group) return notSupported("unsupported named curve: " + std::string(curve));
    key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", group));
  } else if (kind == "Ed25519") {
    key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  } else if (kind == "X25519") {
    key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519"));
  } else {
    return notSupported("unsupported key type: " + std::string(kind));
  }
  if (!key) return operationError("key generation failed");
  return key;
}

}  // namespace isolated::worker::subtle
