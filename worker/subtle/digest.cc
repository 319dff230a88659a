// Message digests: see digest.h.
#include "worker/subtle/digest.h"

#include <string>

namespace isolated::worker::subtle {

const EVP_MD* hashByName(std::string_view name) {
  if (name == "SHA-1") return EVP_sha1();
  if (name == "SHA-256") return EVP_sha256();
  if (name == "SHA-384") return EVP_sha384();
  if (name == "SHA-512") return EVP_sha512();
  return nullptr;
}

Result<Bytes> digest(std::string_view hash, ByteView data) {
  const EVP_MD* md = hashByName(hash);
  if (!md) return notSupported("unsupported hash: " + std::string(hash));
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned int length = 0;
  if (EVP_Digest(dataOrEmpty(data), data.size(), out.data(), &length, md, nullptr) != 1) {
    return operationError("the digest failed");
  }
  out.resize(length);
  return out;
}

}  // namespace isolated::worker::subtle
