// RSA-OAEP: see rsa_oaep.h.
#include "worker/subtle/rsa_oaep.h"

#include <openssl/crypto.h>
#include <openssl/rsa.h>

#include <string>

#include "worker/subtle/digest.h"
#include "worker/subtle/openssl_ptr.h"

namespace isolated::worker::subtle {

Result<Bytes> rsaOaep(bool encrypt, std::string_view hash, EVP_PKEY* key, ByteView label,
                      ByteView data) {
  const EVP_MD* md = hashByName(hash);
  if (!md) return notSupported("unsupported hash: " + std::string(hash));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!ctx ||
      (encrypt ? EVP_PKEY_encrypt_init(ctx.get()) : EVP_PKEY_decrypt_init(ctx.get())) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), md) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), md) != 1) {
    return operationError("RSA-OAEP: the key cannot be used");
  }
  if (!label.empty()) {
    // set0 takes ownership of an OPENSSL_malloc'd copy.
    void* copy = OPENSSL_memdup(label.data(), label.size());
    if (!copy) return operationError("out of memory");
    if (EVP_PKEY_CTX_set0_rsa_oaep_label(ctx.get(), copy, static_cast<int>(label.size())) != 1) {
      OPENSSL_free(copy);
      return operationError("RSA-OAEP: the label could not be set");
    }
  }
  auto run = [&](unsigned char* out, size_t* length) {
    return encrypt ? EVP_PKEY_encrypt(ctx.get(), out, length, dataOrEmpty(data), data.size())
                   : EVP_PKEY_decrypt(ctx.get(), out, length, dataOrEmpty(data), data.size());
  };
  size_t length = 0;
  if (run(nullptr, &length) != 1) return operationError("RSA-OAEP: the operation failed");
  Bytes out(length);
  if (run(out.data(), &length) != 1) {
    return operationError(encrypt ? "RSA-OAEP: the data is too long for the key"
                                  : "RSA-OAEP: decryption failed");
  }
  out.resize(length);
  return out;
}

}  // namespace isolated::worker::subtle
