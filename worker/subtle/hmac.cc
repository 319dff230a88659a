// HMAC: see hmac.h.
#include "worker/subtle/hmac.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>

#include <string>

#include "worker/subtle/digest.h"

namespace isolated::worker::subtle {

Result<Bytes> hmacSign(std::string_view hash, ByteView key, ByteView data) {
  const EVP_MD* md = hashByName(hash);
  if (!md) return notSupported("unsupported hash: " + std::string(hash));
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned int length = 0;
  if (!HMAC(md, dataOrEmpty(key), static_cast<int>(key.size()), dataOrEmpty(data), data.size(),
            out.data(), &length)) {
    return operationError("HMAC failed");
  }
  out.resize(length);
  return out;
}

Result<bool> hmacVerify(std::string_view hash, ByteView key, ByteView data, ByteView signature) {
  Result<Bytes> expected = hmacSign(hash, key, data);
  if (auto* error = std::get_if<CryptoError>(&expected)) return *error;
  const Bytes& mac = std::get<Bytes>(expected);
  return mac.size() == signature.size() &&
         CRYPTO_memcmp(mac.data(), signature.data(), mac.size()) == 0;
}

}  // namespace isolated::worker::subtle
