// Key derivation: see key_derivation.h.
#include "worker/subtle/key_derivation.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <string>

#include "worker/subtle/digest.h"
#include "worker/subtle/hmac.h"
#include "worker/subtle/openssl_ptr.h"

namespace isolated::worker::subtle {

Result<Bytes> pbkdf2(std::string_view hash, ByteView password, ByteView salt, uint32_t iterations,
                     size_t length) {
  const EVP_MD* md = hashByName(hash);
  if (!md) return notSupported("unsupported hash: " + std::string(hash));
  if (iterations == 0) return operationError("PBKDF2: iterations must not be zero");
  if (length == 0) return operationError("PBKDF2: the length must not be zero");
  auto blockSize = static_cast<uint64_t>(EVP_MD_get_size(md));
  uint64_t blocks = (length + blockSize - 1) / blockSize;
  if (iterations > kMaxPbkdf2Iterations || blocks * iterations > kMaxPbkdf2Work) {
    return notSupported("PBKDF2: more than " + std::to_string(kMaxPbkdf2Iterations) +
                        " iterations, or more than " + std::to_string(kMaxPbkdf2Work) +
                        " HMAC computations in all, are not supported");
  }
  Bytes out(length);
  if (PKCS5_PBKDF2_HMAC(reinterpret_cast<const char*>(dataOrEmpty(password)),
                        static_cast<int>(password.size()), dataOrEmpty(salt),
                        static_cast<int>(salt.size()), static_cast<int>(iterations), md,
                        static_cast<int>(length), out.data()) != 1) {
    return operationError("PBKDF2 failed");
  }
  return out;
}

Result<Bytes> hkdf(std::string_view hash, ByteView key, ByteView salt, ByteView info,
                   size_t length) {
  const EVP_MD* md = hashByName(hash);
  if (!md) return notSupported("unsupported hash: " + std::string(hash));
  if (length == 0) return operationError("HKDF: the length must not be zero");
  if (length > 255 * static_cast<size_t>(EVP_MD_get_size(md))) {
    return operationError("HKDF: the length exceeds 255 times the hash length");
  }
  // OpenSSL refuses an empty input key, which WebCrypto allows. Extract is then done here
  // (PRK = HMAC(salt, "")) and OpenSSL only expands. An absent salt means HashLen zero bytes,
  // which HMAC treats exactly like an empty one.
  Bytes prk;
  if (key.empty()) {
    Result<Bytes> extracted = hmacSign(hash, salt, {});
    if (auto* error = std::get_if<CryptoError>(&extracted)) return *error;
    prk = std::move(std::get<Bytes>(extracted));
  }
  KdfPtr kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  KdfCtxPtr ctx(kdf ? EVP_KDF_CTX_new(kdf.get()) : nullptr);
  if (!ctx) return operationError("HKDF is not available");
  std::string digestName(EVP_MD_get0_name(md));
  int mode = prk.empty() ? EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND : EVP_KDF_HKDF_MODE_EXPAND_ONLY;
  ByteView input = prk.empty() ? key : viewOf(prk);
  OSSL_PARAM params[6];
  size_t count = 0;
  params[count++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digestName.data(), 0);
  params[count++] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
  params[count++] = OSSL_PARAM_construct_octet_string(
      OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(input.data()), input.size());
  if (!salt.empty() && prk.empty()) {
    params[count++] = OSSL_PARAM_construct_octet_string(
        OSSL_KDF_PARAM_SALT, const_cast<uint8_t*>(salt.data()), salt.size());
  }
  if (!info.empty()) {
    params[count++] = OSSL_PARAM_construct_octet_string(
        OSSL_KDF_PARAM_INFO, const_cast<uint8_t*>(info.data()), info.size());
  }
  params[count] = OSSL_PARAM_construct_end();
  Bytes out(length);
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) {
    return operationError("HKDF failed");
  }
  return out;
}

Result<Bytes> deriveSharedSecret(EVP_PKEY* privateKey, EVP_PKEY* publicKey) {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, privateKey, nullptr));
  size_t length = 0;
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(ctx.get(), publicKey) != 1 ||
      EVP_PKEY_derive(ctx.get(), nullptr, &length) != 1) {
    return operationError("the keys cannot be combined into a shared secret");
  }
  Bytes out(length);
  if (EVP_PKEY_derive(ctx.get(), out.data(), &length) != 1) {
    return operationError("the shared secret could not be derived");
  }
  out.resize(length);
  return out;
}

}  // namespace isolated::worker::subtle
