// AES modes: see aes.h.
#include "worker/subtle/aes.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>

#include "worker/subtle/openssl_ptr.h"

namespace isolated::worker::subtle {

namespace {

// The OpenSSL cipher name for a mode ("GCM", "CBC", "CTR", "WRAP") and a key length.
const EVP_CIPHER* cipherFor(const char* mode, size_t keyLength) {
  std::string_view m(mode);
  switch (keyLength) {
    case 16:
      return m == "GCM"   ? EVP_aes_128_gcm()
             : m == "CBC" ? EVP_aes_128_cbc()
             : m == "CTR" ? EVP_aes_128_ctr()
                          : EVP_aes_128_wrap();
    case 24:
      return m == "GCM"   ? EVP_aes_192_gcm()
             : m == "CBC" ? EVP_aes_192_cbc()
             : m == "CTR" ? EVP_aes_192_ctr()
                          : EVP_aes_192_wrap();
    case 32:
      return m == "GCM"   ? EVP_aes_256_gcm()
             : m == "CBC" ? EVP_aes_256_cbc()
             : m == "CTR" ? EVP_aes_256_ctr()
                          : EVP_aes_256_wrap();
    default:
      return nullptr;
  }
}

// Runs `data` through an initialised context and finalises it, appending to `out`.
bool update(EVP_CIPHER_CTX* ctx, ByteView data, Bytes& out) {
  size_t start = out.size();
  out.resize(start + data.size() + EVP_MAX_BLOCK_LENGTH);
  int written = 0;
  if (!data.empty() && EVP_CipherUpdate(ctx, out.data() + start, &written, data.data(),
                                        static_cast<int>(data.size())) != 1) {
    return false;
  }
  out.resize(start + static_cast<size_t>(written) + EVP_MAX_BLOCK_LENGTH);
  int finalLength = 0;
  if (EVP_CipherFinal_ex(ctx, out.data() + start + written, &finalLength) != 1) return false;
  out.resize(start + static_cast<size_t>(written) + static_cast<size_t>(finalLength));
  return true;
}

}  // namespace

Result<Bytes> aesGcm(bool encrypt, ByteView key, ByteView iv, ByteView data,
                     ByteView additionalData, int tagLengthBits) {
  const EVP_CIPHER* cipher = cipherFor("GCM", key.size());
  if (!cipher) return operationError("AES key length must be 128, 192 or 256 bits");
  if (iv.empty()) return operationError("AES-GCM: the iv must not be empty");
  auto tagLength = static_cast<size_t>(tagLengthBits / 8);
  if (!encrypt && data.size() < tagLength) {
    return operationError("AES-GCM: the data is shorter than the tag");
  }
  ByteView text = encrypt ? data : data.substr(0, data.size() - tagLength);
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int writtenAad = 0;
  if (!ctx || EVP_CipherInit_ex(ctx.get(), cipher, nullptr, nullptr, nullptr, encrypt) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_IVLEN, static_cast<int>(iv.size()),
                          nullptr) != 1 ||
      EVP_CipherInit_ex(ctx.get(), nullptr, nullptr, key.data(), iv.data(), encrypt) != 1 ||
      (!additionalData.empty() &&
       EVP_CipherUpdate(ctx.get(), nullptr, &writtenAad, additionalData.data(),
                        static_cast<int>(additionalData.size())) != 1)) {
    return operationError("AES-GCM: the cipher could not be set up");
  }
  if (!encrypt) {
    Bytes tag(data.end() - static_cast<ptrdiff_t>(tagLength), data.end());
    if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, static_cast<int>(tagLength),
                            tag.data()) != 1) {
      return operationError("AES-GCM: bad tag length");
    }
  }
  Bytes out;
  if (!update(ctx.get(), text, out)) {
    return operationError(encrypt ? "AES-GCM: encryption failed"
                                  : "AES-GCM: the data could not be authenticated");
  }
  if (encrypt) {
    size_t length = out.size();
    out.resize(length + tagLength);
    if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, static_cast<int>(tagLength),
                            out.data() + length) != 1) {
      return operationError("AES-GCM: bad tag length");
    }
  }
  return out;
}

Result<Bytes> aesCbc(bool encrypt, ByteView key, ByteView iv, ByteView data) {
  const EVP_CIPHER* cipher = cipherFor("CBC", key.size());
  if (!cipher) return operationError("AES key length must be 128, 192 or 256 bits");
  if (iv.size() != 16) return operationError("AES-CBC: the iv must be 16 bytes");
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx || EVP_CipherInit_ex(ctx.get(), cipher, nullptr, key.data(), iv.data(), encrypt) != 1) {
    return operationError("AES-CBC: the cipher could not be set up");
  }
  Bytes out;
  if (!update(ctx.get(), data, out)) {
    return operationError(encrypt ? "AES-CBC: encryption failed"
                                  : "AES-CBC: the data is not correctly padded");
  }
  return out;
}

Result<Bytes> aesCtr(ByteView key, ByteView counter, int lengthBits, ByteView data) {
  const EVP_CIPHER* cipher = cipherFor("CTR", key.size());
  if (!cipher) return operationError("AES key length must be 128, 192 or 256 bits");
  if (counter.size() != 16) return operationError("AES-CTR: the counter must be 16 bytes");
  if (lengthBits < 1 || lengthBits > 128) {
    return operationError("AES-CTR: the counter length must be between 1 and 128 bits");
  }
  // The counter's current value (its low `lengthBits` bits) tells how many blocks remain
  // before it wraps; OpenSSL carries into the whole block, so the input is split there and the
  // second part restarts with the counter bits cleared. Inputs have fewer than 2^64 blocks, so
  // only the low 64 bits matter, and for a counter longer than 64 bits only when every counter
  // bit above them is set.
  std::array<uint8_t, 16> block;
  std::copy(counter.begin(), counter.end(), block.begin());
  uint64_t blocks = (data.size() + 15) / 16;
  uint64_t low = 0;
  for (size_t i = 8; i < 16; ++i)
    low = low << 8 | block[i];
  uint64_t mask = lengthBits >= 64 ? UINT64_MAX : (uint64_t{1} << lengthBits) - 1;
  if (lengthBits < 64 && blocks > mask + 1) {
    return operationError("AES-CTR: the data is longer than the counter allows");
  }
  bool highBitsSet = true;  // the counter bits from bit 64 up (none when lengthBits <= 64)
  for (int bit = 64; bit < lengthBits; ++bit) {
    if (!(block[static_cast<size_t>(15 - bit / 8)] & (1u << (bit % 8)))) highBitsSet = false;
  }
  // Blocks left before the wrap; 2^64 (the subtraction's 0) or more means never for this input.
  uint64_t remaining = highBitsSet ? mask - (low & mask) + 1 : 0;
  if (remaining == 0) remaining = UINT64_MAX;
  size_t firstLength = blocks <= remaining ? data.size() : static_cast<size_t>(remaining) * 16;
  Bytes out;
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), cipher, nullptr, key.data(), block.data()) != 1 ||
      !update(ctx.get(), data.substr(0, firstLength), out)) {
    return operationError("AES-CTR: the cipher failed");
  }
  if (firstLength < data.size()) {
    // Clear the counter bits: whole bytes from the right, then the partial byte.
    int bits = lengthBits;
    for (size_t i = 15; bits > 0; --i, bits -= 8) {
      block[i] = bits >= 8 ? 0 : static_cast<uint8_t>(block[i] & ~((1u << bits) - 1));
    }
    if (EVP_EncryptInit_ex(ctx.get(), cipher, nullptr, key.data(), block.data()) != 1 ||
        !update(ctx.get(), data.substr(firstLength), out)) {
      return operationError("AES-CTR: the cipher failed");
    }
  }
  return out;
}

Result<Bytes> aesKw(bool wrap, ByteView key, ByteView data) {
  const EVP_CIPHER* cipher = cipherFor("WRAP", key.size());
  if (!cipher) return operationError("AES key length must be 128, 192 or 256 bits");
  if (data.size() % 8 != 0 || data.size() < (wrap ? 16u : 24u)) {
    return operationError(wrap ? "AES-KW: the key to wrap must be a multiple of 8 bytes, "
                                 "at least 16"
                               : "AES-KW: the wrapped key must be a multiple of 8 bytes, "
                                 "at least 24");
  }
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return operationError("AES-KW: out of memory");
  EVP_CIPHER_CTX_set_flags(ctx.get(), EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
  if (EVP_CipherInit_ex(ctx.get(), cipher, nullptr, key.data(), nullptr, wrap) != 1) {
    return operationError("AES-KW: the cipher could not be set up");
  }
  Bytes out;
  if (!update(ctx.get(), data, out)) {
    return operationError(wrap ? "AES-KW: wrapping failed"
                               : "AES-KW: the wrapped key failed its integrity check");
  }
  return out;
}

}  // namespace isolated::worker::subtle
