// AES-256-GCM with OpenSSL's EVP interface; the key id is a SHA-256 of the key.
#include "supervisor/registry/secret_box.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <sys/stat.h>

#include <cctype>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "common/read_file.h"

namespace isolated::registry {

namespace {

constexpr std::string_view kMagic = "ISR1";
constexpr size_t kKeyIdBytes = 8;
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;
constexpr size_t kHeaderBytes = 4 + kKeyIdBytes + kNonceBytes;

struct CipherDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherDeleter>;

std::string hex(const uint8_t* bytes, size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += digits[bytes[i] >> 4];
    out += digits[bytes[i] & 15];
  }
  return out;
}

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The key id's raw bytes: the first 8 bytes of SHA-256("isolated registry key id" || key).
std::array<uint8_t, kKeyIdBytes> keyIdBytes(const std::array<uint8_t, SecretKey::kBytes>& key) {
  static constexpr std::string_view kLabel = "isolated registry key id";
  std::string input(kLabel);
  input.append(reinterpret_cast<const char*>(key.data()), key.size());
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const uint8_t*>(input.data()), input.size(), digest);
  OPENSSL_cleanse(input.data(), input.size());
  std::array<uint8_t, kKeyIdBytes> id{};
  std::memcpy(id.data(), digest, kKeyIdBytes);
  return id;
}

}  // namespace

SecretKey::SecretKey(const std::array<uint8_t, kBytes>& bytes) : bytes_(bytes) {
  auto id = keyIdBytes(bytes_);
  id_ = hex(id.data(), id.size());
}

SecretKey::~SecretKey() {
  OPENSSL_cleanse(bytes_.data(), bytes_.size());
}

std::optional<SecretKey> parseSecretKey(std::string_view text, std::string& error) {
  std::array<uint8_t, SecretKey::kBytes> bytes{};
  if (text.size() == SecretKey::kBytes) {
    std::memcpy(bytes.data(), text.data(), bytes.size());
    return SecretKey(bytes);
  }
  size_t begin = 0;
  size_t end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin])))
    ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1])))
    --end;
  std::string_view trimmed = text.substr(begin, end - begin);
  if (trimmed.size() == SecretKey::kBytes * 2) {
    bool ok = true;
    for (size_t i = 0; ok && i < bytes.size(); ++i) {
      int high = hexDigit(trimmed[2 * i]);
      int low = hexDigit(trimmed[2 * i + 1]);
      ok = high >= 0 && low >= 0;
      bytes[i] = static_cast<uint8_t>(high * 16 + low);
    }
    if (ok) return SecretKey(bytes);
  }
  error = "expected 32 bytes, or 64 hex digits (make one with `openssl rand -hex 32`), found " +
          std::to_string(text.size()) + " bytes";
  return std::nullopt;
}

std::optional<SecretKey> readSecretKeyFile(const std::string& path, std::string& error) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    error = "--registry-key " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  if (!S_ISREG(st.st_mode)) {
    error = "--registry-key " + path + ": not a regular file";
    return std::nullopt;
  }
  if ((st.st_mode & (S_IROTH | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    error = "--registry-key " + path +
            ": the key file is readable or writable by every user (mode " + mode +
            "); refusing to use it: chmod 600 " + path;
    return std::nullopt;
  }
  std::string readError;
  auto text = readFile(path, readError);
  if (!text) {
    error = "--registry-key: " + readError;
    return std::nullopt;
  }
  std::string parseError;
  auto key = parseSecretKey(*text, parseError);
  OPENSSL_cleanse(text->data(), text->size());
  if (!key) error = "--registry-key " + path + ": " + parseError;
  return key;
}

std::string sealSecret(const SecretKey& key, std::string_view plaintext, std::string_view context) {
  auto id = keyIdBytes(key.bytes());
  std::string out(kMagic);
  out.append(reinterpret_cast<const char*>(id.data()), id.size());
  uint8_t nonce[kNonceBytes];
  if (RAND_bytes(nonce, sizeof nonce) != 1) throw std::runtime_error("RAND_bytes failed");
  out.append(reinterpret_cast<const char*>(nonce), sizeof nonce);

  CipherPtr ctx(EVP_CIPHER_CTX_new());
  int length = 0;
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.bytes().data(), nonce) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &length,
                        reinterpret_cast<const uint8_t*>(context.data()),
                        static_cast<int>(context.size())) != 1) {
    throw std::runtime_error("AES-256-GCM setup failed");
  }
  size_t at = out.size();
  out.resize(at + plaintext.size() + kTagBytes);
  auto* dest = reinterpret_cast<uint8_t*>(out.data() + at);
  if (EVP_EncryptUpdate(ctx.get(), dest, &length,
                        reinterpret_cast<const uint8_t*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) != 1) {
    throw std::runtime_error("AES-256-GCM encryption failed");
  }
  int last = 0;
  if (EVP_EncryptFinal_ex(ctx.get(), dest + length, &last) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, dest + plaintext.size()) !=
          1) {
    throw std::runtime_error("AES-256-GCM finalisation failed");
  }
  return out;
}

std::string sealedKeyId(std::string_view sealed) {
  if (sealed.size() < kHeaderBytes + kTagBytes || sealed.substr(0, kMagic.size()) != kMagic) {
    return "";
  }
  return hex(reinterpret_cast<const uint8_t*>(sealed.data() + kMagic.size()), kKeyIdBytes);
}

std::optional<std::string> openSecret(const SecretKey& key, std::string_view sealed,
                                      std::string_view context, std::string& error) {
  std::string id = sealedKeyId(sealed);
  if (id.empty()) {
    error = "not a sealed value (truncated or not written by isolated)";
    return std::nullopt;
  }
  if (id != key.id()) {
    error = "sealed with another key (key id " + id + "; this server's --registry-key is " +
            key.id() + ")";
    return std::nullopt;
  }
  const auto* nonce = reinterpret_cast<const uint8_t*>(sealed.data() + kMagic.size() + kKeyIdBytes);
  const auto* body = reinterpret_cast<const uint8_t*>(sealed.data() + kHeaderBytes);
  size_t bodyBytes = sealed.size() - kHeaderBytes - kTagBytes;
  std::string tag(sealed.substr(sealed.size() - kTagBytes));

  CipherPtr ctx(EVP_CIPHER_CTX_new());
  int length = 0;
  std::string plain(bodyBytes, '\0');
  bool ok =
      ctx &&
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.bytes().data(), nonce) == 1 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &length,
                        reinterpret_cast<const uint8_t*>(context.data()),
                        static_cast<int>(context.size())) == 1 &&
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<uint8_t*>(plain.data()), &length, body,
                        static_cast<int>(bodyBytes)) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) == 1;
  int last = 0;
  if (!ok || EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<uint8_t*>(plain.data()) + length,
                                 &last) != 1) {
    OPENSSL_cleanse(plain.data(), plain.size());
    error = "the sealed value does not authenticate (altered, or sealed for another app)";
    return std::nullopt;
  }
  return plain;
}

}  // namespace isolated::registry
