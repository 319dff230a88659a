// DER key codecs: see key_der.h.
#include "worker/subtle/key_der.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>

namespace isolated::worker::subtle {

namespace {

// Copies a buffer that an i2d_ function allocated, then frees it.
Bytes takeDer(unsigned char* der, int length) {
  Bytes out(der, der + length);
  OPENSSL_free(der);
  return out;
}

}  // namespace

const char* groupForCurve(std::string_view curve) {
  if (curve == "P-256") return "prime256v1";
  if (curve == "P-384") return "secp384r1";
  if (curve == "P-521") return "secp521r1";
  return nullptr;
}

size_t coordinateSize(std::string_view curve) {
  if (curve == "P-256") return 32;
  if (curve == "P-384") return 48;
  if (curve == "P-521") return 66;
  return 0;
}

Result<PkeyPtr> parseSpki(ByteView der) {
  const unsigned char* cursor = der.data();
  PkeyPtr key(d2i_PUBKEY(nullptr, &cursor, static_cast<long>(der.size())));
  if (!key || cursor != der.data() + der.size()) {
    return dataError("the key data is not a valid DER SubjectPublicKeyInfo");
  }
  return key;
}

Result<PkeyPtr> parsePkcs8(ByteView der) {
  const unsigned char* cursor = der.data();
  Pkcs8Ptr info(d2i_PKCS8_PRIV_KEY_INFO(nullptr, &cursor, static_cast<long>(der.size())));
  if (!info || cursor != der.data() + der.size()) {
    return dataError("the key data is not a valid DER PKCS #8 PrivateKeyInfo");
  }
  PkeyPtr key(EVP_PKCS82PKEY(info.get()));
  if (!key) return dataError("the PKCS #8 structure does not hold a usable private key");
  return key;
}

Result<Bytes> encodeSpki(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int length = i2d_PUBKEY(key, &der);
  if (length <= 0) return operationError("the public key could not be encoded");
  return takeDer(der, length);
}

Result<Bytes> encodePkcs8(EVP_PKEY* key) {
  Pkcs8Ptr info(EVP_PKEY2PKCS8(key));
  unsigned char* der = nullptr;
  int length = info ? i2d_PKCS8_PRIV_KEY_INFO(info.get(), &der) : 0;
  if (length <= 0) return operationError("the private key could not be encoded");
  return takeDer(der, length);
}

KeyDescription describeKey(EVP_PKEY* key) {
  KeyDescription description;
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA: {
      description.kind = "RSA";
      description.modulusLength = EVP_PKEY_get_bits(key);
      BIGNUM* raw = nullptr;
      if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &raw) == 1) {
        BignumPtr exponent(raw);
        description.publicExponent.resize(static_cast<size_t>(BN_num_bytes(exponent.get())));
        BN_bn2bin(exponent.get(), description.publicExponent.data());
      }
      break;
    }
    case EVP_PKEY_EC: {
      char group[64] = {};
      if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                         nullptr) == 1) {
        std::string_view name(group);
        description.kind = "EC";
        description.curve = name == "prime256v1"  ? "P-256"
                            : name == "secp384r1" ? "P-384"
                            : name == "secp521r1" ? "P-521"
                                                  : "";
      }
      break;
    }
    case EVP_PKEY_ED25519:
      description.kind = "Ed25519";
      break;
    case EVP_PKEY_X25519:
      description.kind = "X25519";
      break;
    default:
      break;
  }
  return description;
}

}  // namespace isolated::worker::subtle
