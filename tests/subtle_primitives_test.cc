// The OpenSSL primitives behind crypto.subtle, in-process and without V8: the parts whose
// logic is ours rather than OpenSSL's (AES-CTR counter wrapping, DER strictness, JWK
// consistency checks, the PBKDF2 work bound, HKDF's empty key) checked against independent
// computations. tests/js/subtle_*.test.js cover the whole API through the runtime.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <array>
#include <string>

#include "worker/subtle/aes.h"
#include "worker/subtle/hmac.h"
#include "worker/subtle/key_components.h"
#include "worker/subtle/key_der.h"
#include "worker/subtle/key_derivation.h"
#include "worker/subtle/key_generate.h"
#include "worker/subtle/signature.h"

namespace isolated::worker::subtle {
namespace {

Bytes bytesOf(std::string_view text) {
  return Bytes(text.begin(), text.end());
}

template <typename T>
const T& valueOf(const Result<T>& result) {
  if (const auto* error = std::get_if<CryptoError>(&result)) {
    ADD_FAILURE() << error->name << ": " << error->message;
    static const T kEmpty{};
    return kEmpty;
  }
  return std::get<T>(result);
}

template <typename T>
std::string errorName(const Result<T>& result) {
  const auto* error = std::get_if<CryptoError>(&result);
  return error ? error->name : "no error";
}

// WebCrypto's CTR keystream computed block by block with AES-ECB: the low `lengthBits` bits
// of the counter count up and wrap to zero without touching the others.
Bytes referenceCtr(const Bytes& key, std::array<uint8_t, 16> counter, int lengthBits,
                   const Bytes& data) {
  Bytes out;
  for (size_t offset = 0; offset < data.size(); offset += 16) {
    uint8_t keystream[32];
    int length = 0;
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    EVP_EncryptInit_ex(ctx, EVP_aes_128_ecb(), nullptr, key.data(), nullptr);
    EVP_CIPHER_CTX_set_padding(ctx, 0);
    EVP_EncryptUpdate(ctx, keystream, &length, counter.data(), 16);
    EVP_CIPHER_CTX_free(ctx);
    for (size_t i = 0; i < 16 && offset + i < data.size(); ++i) {
      out.push_back(data[offset + i] ^ keystream[i]);
    }
    // Increment the counter bits only, from the right, carrying within them.
    int bits = lengthBits;
    for (int i = 15; i >= 0 && bits > 0; --i, bits -= 8) {
      auto index = static_cast<size_t>(i);
      uint8_t mask = bits >= 8 ? 0xFF : static_cast<uint8_t>((1u << bits) - 1);
      uint8_t next = static_cast<uint8_t>(((counter[index] & mask) + 1) & mask);
      counter[index] = static_cast<uint8_t>((counter[index] & ~mask) | next);
      if (next != 0) break;
    }
  }
  return out;
}

TEST(SubtleAesCtr, CounterWrapsWithinItsBitsForEveryLength) {
  Bytes key(16, 0x42);
  Bytes data(16 * 7 + 5);
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = static_cast<uint8_t>(i);
  for (int lengthBits : {3, 8, 12, 16, 63, 64, 65, 127, 128}) {
    std::array<uint8_t, 16> counter;
    counter.fill(0xFF);
    counter[0] = 0x5A;  // a nonce bit pattern outside every counter length tested
    // Three blocks before the counter bits wrap; a 3-bit counter has exactly the 8 blocks.
    counter[15] = 0xFD;
    Result<Bytes> actual = aesCtr(ByteView(key.data(), key.size()), ByteView(counter.data(), 16),
                                  lengthBits, viewOf(data));
    EXPECT_EQ(valueOf(actual), referenceCtr(key, counter, lengthBits, data))
        << lengthBits << "-bit counter";
  }
}

TEST(SubtleAesCtr, MoreBlocksThanCounterValuesIsAnOperationError) {
  Bytes key(16, 1);
  std::array<uint8_t, 16> counter{};
  Bytes nineBlocks(16 * 8 + 1);
  EXPECT_EQ(errorName(aesCtr(viewOf(key), ByteView(counter.data(), 16), 3, viewOf(nineBlocks))),
            "OperationError");
  EXPECT_EQ(errorName(aesCtr(viewOf(key), ByteView(counter.data(), 16), 0, viewOf(key))),
            "OperationError");
}

TEST(SubtleAesGcm, TamperedTagIsAnOperationError) {
  Bytes key(32, 9);
  Bytes iv(12, 3);
  Bytes sealed = valueOf(aesGcm(true, viewOf(key), viewOf(iv), viewOf(bytesOf("hello")), {}, 128));
  ASSERT_EQ(sealed.size(), 5u + 16u);
  EXPECT_EQ(valueOf(aesGcm(false, viewOf(key), viewOf(iv), viewOf(sealed), {}, 128)),
            bytesOf("hello"));
  sealed.back() ^= 1;
  EXPECT_EQ(errorName(aesGcm(false, viewOf(key), viewOf(iv), viewOf(sealed), {}, 128)),
            "OperationError");
}

TEST(SubtleKeyDer, TrailingBytesAndGarbageAreDataErrors) {
  PkeyPtr key = std::move(std::get<PkeyPtr>(generateKeyPair("EC", "P-256", 0, {})));
  Bytes spki = valueOf(encodeSpki(key.get()));
  Bytes pkcs8 = valueOf(encodePkcs8(key.get()));
  EXPECT_TRUE(std::holds_alternative<PkeyPtr>(parseSpki(viewOf(spki))));
  EXPECT_TRUE(std::holds_alternative<PkeyPtr>(parsePkcs8(viewOf(pkcs8))));
  spki.push_back(0);
  pkcs8.push_back(0);
  EXPECT_EQ(errorName(parseSpki(viewOf(spki))), "DataError");
  EXPECT_EQ(errorName(parsePkcs8(viewOf(pkcs8))), "DataError");
  EXPECT_EQ(errorName(parseSpki(viewOf(bytesOf("not DER")))), "DataError");
  EXPECT_EQ(errorName(parsePkcs8({})), "DataError");
  KeyDescription description = describeKey(key.get());
  EXPECT_EQ(description.kind, "EC");
  EXPECT_EQ(description.curve, "P-256");
}

TEST(SubtleKeyComponents, JwkRoundTripAndInconsistentMembers) {
  PkeyPtr key = std::move(std::get<PkeyPtr>(generateKeyPair("EC", "P-384", 0, {})));
  JwkFields fields = valueOf(exportJwkKey(key.get(), true));
  ASSERT_EQ(fields.at("x").size(), 48u);
  ASSERT_EQ(fields.at("d").size(), 48u);
  Result<PkeyPtr> again = importJwkKey("EC", "P-384", true, fields);
  ASSERT_TRUE(std::holds_alternative<PkeyPtr>(again));
  EXPECT_EQ(valueOf(encodePkcs8(std::get<PkeyPtr>(again).get())), valueOf(encodePkcs8(key.get())));
  JwkFields wrongD = fields;
  wrongD["d"][47] ^= 1;
  EXPECT_EQ(errorName(importJwkKey("EC", "P-384", true, wrongD)), "DataError");
  JwkFields offCurve = fields;
  offCurve["y"][10] ^= 1;
  EXPECT_EQ(errorName(importJwkKey("EC", "P-384", false, offCurve)), "DataError");
  EXPECT_EQ(errorName(importJwkKey("EC", "P-256", false, fields)), "DataError");
}

TEST(SubtleSignature, EcdsaSignaturesAreFixedSizeRAndS) {
  PkeyPtr key = std::move(std::get<PkeyPtr>(generateKeyPair("EC", "P-256", 0, {})));
  SignatureScheme scheme{"ECDSA", "SHA-256", 0};
  // Whatever the DER length (r or s may be short), the P1363 form is 64 bytes.
  for (int i = 0; i < 32; ++i) {
    Bytes data = bytesOf("message " + std::to_string(i));
    Bytes signature = valueOf(sign(scheme, key.get(), viewOf(data)));
    ASSERT_EQ(signature.size(), 64u);
    EXPECT_TRUE(valueOf(verify(scheme, key.get(), viewOf(signature), viewOf(data))));
    signature[5] ^= 1;
    EXPECT_FALSE(valueOf(verify(scheme, key.get(), viewOf(signature), viewOf(data))));
  }
  EXPECT_FALSE(valueOf(verify(scheme, key.get(), {}, viewOf(bytesOf("x")))));
}

TEST(SubtleKeyComponents, RebuiltKeysSignLikeTheOriginal) {
  // Operations rebuild keys from their JWK members: the result must be the same key.
  for (const char* kind : {"EC", "Ed25519", "RSA"}) {
    const uint8_t f4[] = {1, 0, 1};
    PkeyPtr key =
        std::move(std::get<PkeyPtr>(generateKeyPair(kind, "P-256", 1024, ByteView(f4, 3))));
    JwkFields privateFields = valueOf(exportJwkKey(key.get(), true));
    JwkFields publicFields = valueOf(exportJwkKey(key.get(), false));
    EXPECT_EQ(publicFields.count("d"), 0u) << kind;
    Result<PkeyPtr> rebuiltPrivate = rebuildKey(kind, "P-256", true, privateFields);
    Result<PkeyPtr> rebuiltPublic = rebuildKey(kind, "P-256", false, publicFields);
    ASSERT_TRUE(std::holds_alternative<PkeyPtr>(rebuiltPrivate)) << kind;
    ASSERT_TRUE(std::holds_alternative<PkeyPtr>(rebuiltPublic)) << kind;
    EXPECT_EQ(valueOf(encodePkcs8(std::get<PkeyPtr>(rebuiltPrivate).get())),
              valueOf(encodePkcs8(key.get())))
        << kind;
    std::string_view scheme = std::string_view(kind) == "EC"    ? "ECDSA"
                              : std::string_view(kind) == "RSA" ? "RSA-PSS"
                                                                : "Ed25519";
    SignatureScheme signing{scheme, "SHA-256", 32};
    Bytes data = bytesOf("data");
    Bytes signature = valueOf(sign(signing, std::get<PkeyPtr>(rebuiltPrivate).get(), viewOf(data)));
    EXPECT_TRUE(valueOf(verify(signing, key.get(), viewOf(signature), viewOf(data)))) << kind;
    EXPECT_TRUE(valueOf(
        verify(signing, std::get<PkeyPtr>(rebuiltPublic).get(), viewOf(signature), viewOf(data))))
        << kind;
  }
}

TEST(SubtleKeyDerivation, Pbkdf2WorkIsBounded) {
  Bytes password = bytesOf("pw");
  Bytes salt = bytesOf("salt");
  EXPECT_EQ(
      errorName(pbkdf2("SHA-256", viewOf(password), viewOf(salt), kMaxPbkdf2Iterations + 1, 32)),
      "NotSupportedError");
  // 100000 iterations x 21 blocks of SHA-256 exceeds the total work bound.
  EXPECT_EQ(
      errorName(pbkdf2("SHA-256", viewOf(password), viewOf(salt), kMaxPbkdf2Iterations, 32 * 21)),
      "NotSupportedError");
  EXPECT_EQ(errorName(pbkdf2("SHA-256", viewOf(password), viewOf(salt), 0, 32)), "OperationError");
  EXPECT_EQ(valueOf(pbkdf2("SHA-1", viewOf(password), viewOf(salt), 1, 20)).size(), 20u);
}

TEST(SubtleKeyDerivation, HkdfWithAnEmptyKeyEqualsHmacOfTheZeroKey) {
  // HKDF-Extract is HMAC(salt, key); with one output block, Expand is HMAC(prk, info || 1).
  Bytes salt = bytesOf("salt");
  Bytes info = bytesOf("info");
  Bytes prk = valueOf(hmacSign("SHA-256", viewOf(salt), {}));
  Bytes expandInput = info;
  expandInput.push_back(1);
  Bytes expected = valueOf(hmacSign("SHA-256", viewOf(prk), viewOf(expandInput)));
  EXPECT_EQ(valueOf(hkdf("SHA-256", {}, viewOf(salt), viewOf(info), 32)), expected);
}

TEST(SubtleKeyGenerate, RsaBoundsAndExponents) {
  const uint8_t f4[] = {1, 0, 1};
  EXPECT_EQ(errorName(generateKeyPair("RSA", "", kMaxGeneratedModulusBits + 8, ByteView(f4, 3))),
            "NotSupportedError");
  const uint8_t even[] = {4};
  EXPECT_EQ(errorName(generateKeyPair("RSA", "", 1024, ByteView(even, 1))), "OperationError");
  EXPECT_EQ(errorName(generateKeyPair("DSA", "", 0, {})), "NotSupportedError");
}

}  // namespace
}  // namespace isolated::worker::subtle
