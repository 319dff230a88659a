// Signatures: see signature.h.
#include "worker/subtle/signature.h"

#include <openssl/ec.h>
#include <openssl/rsa.h>

#include <optional>
#include <string>

#include "worker/subtle/digest.h"
#include "worker/subtle/openssl_ptr.h"

namespace isolated::worker::subtle {

namespace {

// The byte size of each of r and s for an EC key.
size_t ecScalarSize(EVP_PKEY* key) {
  return static_cast<size_t>(EVP_PKEY_get_bits(key) + 7) / 8;
}

// Sets up `ctx` for signing or verifying with `key` under `scheme`.
std::optional<CryptoError> initialise(EVP_MD_CTX* ctx, EVP_PKEY* key, const SignatureScheme& scheme,
                                      bool signing) {
  const EVP_MD* md = nullptr;
  if (scheme.kind != "Ed25519") {
    md = hashByName(scheme.hash);
    if (!md) return notSupported("unsupported hash: " + std::string(scheme.hash));
  }
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  int ok = signing ? EVP_DigestSignInit(ctx, &pctx, md, nullptr, key)
                   : EVP_DigestVerifyInit(ctx, &pctx, md, nullptr, key);
  if (ok != 1) return operationError("the key cannot be used for " + std::string(scheme.kind));
  if (scheme.kind == "RSA-PSS") {
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, scheme.saltLength) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1) {
      return operationError("RSA-PSS: the parameters are not valid for this key");
    }
  } else if (scheme.kind == "RSASSA-PKCS1-v1_5") {
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
      return operationError("RSASSA-PKCS1-v1_5: the padding could not be set");
    }
  }
  return std::nullopt;
}

// DER ECDSA-Sig-Value -> r || s, each left-padded to the curve's scalar size.
Result<Bytes> derToP1363(ByteView der, size_t size) {
  const unsigned char* cursor = der.data();
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(der.size())));
  if (!sig) return operationError("ECDSA: OpenSSL produced an unreadable signature");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  Bytes out(2 * size);
  if (BN_bn2binpad(r, out.data(), static_cast<int>(size)) < 0 ||
      BN_bn2binpad(s, out.data() + size, static_cast<int>(size)) < 0) {
    return operationError("ECDSA: the signature does not fit the curve");
  }
  return out;
}

// r || s -> DER, or nothing when the length is wrong for the curve.
std::optional<Bytes> p1363ToDer(ByteView raw, size_t size) {
  if (raw.size() != 2 * size) return std::nullopt;
  EcdsaSigPtr sig(ECDSA_SIG_new());
  BignumPtr r(BN_bin2bn(raw.data(), static_cast<int>(size), nullptr));
  BignumPtr s(BN_bin2bn(raw.data() + size, static_cast<int>(size), nullptr));
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return std::nullopt;
  r.release();  // now owned by sig
  s.release();
  unsigned char* der = nullptr;
  int length = i2d_ECDSA_SIG(sig.get(), &der);
  if (length <= 0) return std::nullopt;
  Bytes out(der, der + length);
  OPENSSL_free(der);
  return out;
}

}  // namespace

Result<Bytes> sign(const SignatureScheme& scheme, EVP_PKEY* key, ByteView data) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return operationError("out of memory");
  if (auto error = initialise(ctx.get(), key, scheme, true)) return *error;
  size_t length = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &length, dataOrEmpty(data), data.size()) != 1) {
    return operationError(std::string(scheme.kind) + ": signing failed");
  }
  Bytes out(length);
  if (EVP_DigestSign(ctx.get(), out.data(), &length, dataOrEmpty(data), data.size()) != 1) {
    return operationError(std::string(scheme.kind) +
                          ": signing failed (is the salt too long for the key?)");
  }
  out.resize(length);
  if (scheme.kind == "ECDSA") return derToP1363(viewOf(out), ecScalarSize(key));
  return out;
}

Result<bool> verify(const SignatureScheme& scheme, EVP_PKEY* key, ByteView signature,
                    ByteView data) {
  Bytes der;
  if (scheme.kind == "ECDSA") {
    std::optional<Bytes> converted = p1363ToDer(signature, ecScalarSize(key));
    if (!converted) return false;
    der = std::move(*converted);
    signature = viewOf(der);
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return operationError("out of memory");
  if (auto error = initialise(ctx.get(), key, scheme, false)) return *error;
  return EVP_DigestVerify(ctx.get(), dataOrEmpty(signature), signature.size(), dataOrEmpty(data),
                          data.size()) == 1;
}

}  // namespace isolated::worker::subtle
