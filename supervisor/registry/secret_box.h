// Sealing the registry's secrets so that a dump of the database does not reveal them: AES-256-GCM
// (OpenSSL's EVP interface) under a key each server reads from its --registry-key file.
//
// A sealed value is "ISR1" | key id (8 bytes) | nonce (12 bytes, random per seal) | ciphertext |
// tag (16 bytes). The key id (a hash of the key, which reveals nothing about it) tells a wrong
// key apart from a damaged value; the context (the app's name) is authenticated too, so a sealed
// value moved to another app's row does not open there. Pure functions; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace isolated::registry {

class SecretKey {
 public:
  static constexpr size_t kBytes = 32;
  explicit SecretKey(const std::array<uint8_t, kBytes>& bytes);
  ~SecretKey();
  SecretKey(const SecretKey&) = default;
  SecretKey& operator=(const SecretKey&) = default;

  const std::array<uint8_t, kBytes>& bytes() const { return bytes_; }
  // 16 hex digits naming the key (stored beside sealed values, shown in errors).
  const std::string& id() const { return id_; }

 private:
  std::array<uint8_t, kBytes> bytes_;
  std::string id_;
};

// A key from a file's text: 32 raw bytes, or 64 hex digits (surrounding whitespace ignored).
// nullopt with `error` when it is neither.
std::optional<SecretKey> parseSecretKey(std::string_view text, std::string& error);

// Reads --registry-key FILE: refused when other users may read or write it (a key the whole
// machine can read protects nothing), or when its content is not a key. `error` names the file.
std::optional<SecretKey> readSecretKeyFile(const std::string& path, std::string& error);

// Seals `plaintext` bound to `context`.
std::string sealSecret(const SecretKey& key, std::string_view plaintext, std::string_view context);

// Opens a sealed value; nullopt with `error` when the key is another one, the value was altered
// or truncated, or the context differs.
std::optional<std::string> openSecret(const SecretKey& key, std::string_view sealed,
                                      std::string_view context, std::string& error);

// The key id a sealed value names ("" when it is not a sealed value).
std::string sealedKeyId(std::string_view sealed);

}  // namespace isolated::registry
