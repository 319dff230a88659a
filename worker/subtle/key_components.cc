// Raw and JWK key components: see key_components.h.
#include "worker/subtle/key_components.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>

#include <optional>

#include "worker/subtle/key_der.h"

namespace isolated::worker::subtle {

namespace {

constexpr size_t kOkpKeySize = 32;

int okpType(std::string_view kind) {
  return kind == "Ed25519" ? EVP_PKEY_ED25519 : kind == "X25519" ? EVP_PKEY_X25519 : 0;
}

Result<PkeyPtr> fromParams(const char* type, int selection, OSSL_PARAM_BLD* build) {
  ParamsPtr params(OSSL_PARAM_BLD_to_param(build));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, selection, params.get()) != 1) {
    return dataError("the key data does not describe a valid key");
  }
  return PkeyPtr(raw);
}

Result<PkeyPtr> importEc(std::string_view curve, ByteView point, const Bytes* d, bool validate) {
  const char* group = groupForCurve(curve);
  if (!group) return notSupported("unsupported named curve: " + std::string(curve));
  ParamBuildPtr build(OSSL_PARAM_BLD_new());
  BignumPtr privateValue;
  if (d) privateValue.reset(BN_bin2bn(d->data(), static_cast<int>(d->size()), nullptr));
  if (!build || (d && !privateValue) ||
      OSSL_PARAM_BLD_push_utf8_string(build.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(build.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1 ||
      (d &&
       OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_PRIV_KEY, privateValue.get()) != 1)) {
    return operationError("out of memory building an EC key");
  }
  Result<PkeyPtr> key = fromParams("EC", d ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, build.get());
  if (auto* made = std::get_if<PkeyPtr>(&key)) {
    if (validate && !keyIsConsistent(made->get(), d != nullptr)) {
      return dataError("the EC key is not valid on " + std::string(curve));
    }
    useUncompressedPoints(made->get());
  }
  return key;
}

const Bytes* field(const JwkFields& fields, std::string_view name) {
  auto found = fields.find(name);
  return found == fields.end() ? nullptr : &found->second;
}

Result<PkeyPtr> importRsaJwk(bool isPrivate, const JwkFields& fields, bool validate) {
  static constexpr std::pair<const char*, const char*> kPublic[] = {{"n", OSSL_PKEY_PARAM_RSA_N},
                                                                    {"e", OSSL_PKEY_PARAM_RSA_E}};
  static constexpr std::pair<const char*, const char*> kPrivate[] = {
      {"d", OSSL_PKEY_PARAM_RSA_D},          {"p", OSSL_PKEY_PARAM_RSA_FACTOR1},
      {"q", OSSL_PKEY_PARAM_RSA_FACTOR2},    {"dp", OSSL_PKEY_PARAM_RSA_EXPONENT1},
      {"dq", OSSL_PKEY_PARAM_RSA_EXPONENT2}, {"qi", OSSL_PKEY_PARAM_RSA_COEFFICIENT1}};
  ParamBuildPtr build(OSSL_PARAM_BLD_new());
  if (!build) return operationError("out of memory building an RSA key");
  // The builder keeps pointers to the numbers until OSSL_PARAM_BLD_to_param copies them.
  std::vector<BignumPtr> numbers;
  auto push = [&](const char* member, const char* param) -> bool {
    const Bytes* value = field(fields, member);
    if (!value || value->empty()) return false;
    numbers.emplace_back(BN_bin2bn(value->data(), static_cast<int>(value->size()), nullptr));
    return numbers.back() && OSSL_PARAM_BLD_push_BN(build.get(), param, numbers.back().get());
  };
  for (auto [member, param] : kPublic) {
    if (!push(member, param))
      return dataError(std::string("the RSA JWK lacks a valid \"") + member + "\" member");
  }
  if (isPrivate) {
    for (auto [member, param] : kPrivate) {
      if (!push(member, param)) {
        return dataError(std::string("the private RSA JWK lacks a valid \"") + member +
                         "\" member (keys without the CRT members are not supported)");
      }
    }
  }
  Result<PkeyPtr> key =
      fromParams("RSA", isPrivate ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, build.get());
  if (auto* made = std::get_if<PkeyPtr>(&key);
      made && validate && !keyIsConsistent(made->get(), isPrivate)) {
    return dataError("the RSA JWK members do not form a consistent key");
  }
  return key;
}

Result<PkeyPtr> importOkpJwk(std::string_view kind, bool isPrivate, const JwkFields& fields,
                             bool validate) {
  int type = okpType(kind);
  const Bytes* x = field(fields, "x");
  if (!x || x->size() != kOkpKeySize) {
    return dataError("the JWK's \"x\" member must be 32 bytes");
  }
  if (!isPrivate) return importRawPublicKey(kind, "", viewOf(*x));
  const Bytes* d = field(fields, "d");
  if (!d || d->size() != kOkpKeySize) {
    return dataError("the JWK's \"d\" member must be 32 bytes");
  }
  if (!validate) {
    // A checked key: handing OpenSSL both halves spares it deriving the public key again.
    ParamBuildPtr build(OSSL_PARAM_BLD_new());
    if (!build ||
        OSSL_PARAM_BLD_push_octet_string(build.get(), OSSL_PKEY_PARAM_PUB_KEY, x->data(),
                                         x->size()) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(build.get(), OSSL_PKEY_PARAM_PRIV_KEY, d->data(),
                                         d->size()) != 1) {
      return operationError("out of memory building a key");
    }
    return fromParams(type == EVP_PKEY_ED25519 ? "ED25519" : "X25519", EVP_PKEY_KEYPAIR,
                      build.get());
  }
  PkeyPtr key(EVP_PKEY_new_raw_private_key(type, nullptr, d->data(), d->size()));
  if (!key) return dataError("the JWK does not describe a valid " + std::string(kind) + " key");
  Bytes derived(kOkpKeySize);
  size_t length = derived.size();
  if (EVP_PKEY_get_raw_public_key(key.get(), derived.data(), &length) != 1 ||
      length != kOkpKeySize || CRYPTO_memcmp(derived.data(), x->data(), kOkpKeySize) != 0) {
    return dataError("the JWK's \"x\" member is not the public key of its \"d\" member");
  }
  return key;
}

// The key's big-number parameter `name` (an RSA component), or null when it has none.
BignumPtr keyBignum(EVP_PKEY* key, const char* name) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) return nullptr;
  return BignumPtr(raw);
}

Result<Bytes> bignumParam(EVP_PKEY* key, const char* name, size_t padTo = 0) {
  BignumPtr number = keyBignum(key, name);
  if (!number) return operationError(std::string("the key has no ") + name + " component");
  size_t size = padTo ? padTo : static_cast<size_t>(BN_num_bytes(number.get()));
  Bytes out(size);
  if (BN_bn2binpad(number.get(), out.data(), static_cast<int>(size)) < 0) {
    return operationError(std::string("the key's ") + name + " component does not fit");
  }
  return out;
}

// The checks BoringSSL's RSA_check_key makes (Chrome's WebCrypto import): the modulus and
// exponent are odd and ordered, and for a private key the CRT components agree with each other,
// with the modulus and with the exponents. OpenSSL 3's own checks (EVP_PKEY_public_check,
// EVP_PKEY_pairwise_check) add Miller-Rabin tests of the modulus and of both primes: 8 ms of CPU
// to import an RSA-2048 public key and 50 ms for a private key, measured on the 2-core VM, which
// is the whole of a request's default CPU limit for a script that imports its signing key per
// request. A key that passes these but whose "primes" are not prime only hurts its holder's own
// signatures, as it would in Chrome. Null: the key is missing a component these need (a private
// key without its CRT components), and the caller falls back to OpenSSL's checks.
std::optional<bool> rsaIsConsistent(EVP_PKEY* key, bool isPrivate) {
  BignumPtr n = keyBignum(key, OSSL_PKEY_PARAM_RSA_N);
  BignumPtr e = keyBignum(key, OSSL_PKEY_PARAM_RSA_E);
  if (!n || !e) return std::nullopt;
  if (!BN_is_odd(n.get()) || !BN_is_odd(e.get()) || BN_is_one(e.get()) ||
      BN_cmp(e.get(), n.get()) >= 0) {
    return false;
  }
  if (!isPrivate) return true;
  BignumPtr d = keyBignum(key, OSSL_PKEY_PARAM_RSA_D);
  BignumPtr p = keyBignum(key, OSSL_PKEY_PARAM_RSA_FACTOR1);
  BignumPtr q = keyBignum(key, OSSL_PKEY_PARAM_RSA_FACTOR2);
  BignumPtr dp = keyBignum(key, OSSL_PKEY_PARAM_RSA_EXPONENT1);
  BignumPtr dq = keyBignum(key, OSSL_PKEY_PARAM_RSA_EXPONENT2);
  BignumPtr qi = keyBignum(key, OSSL_PKEY_PARAM_RSA_COEFFICIENT1);
  if (!d || !p || !q || !dp || !dq || !qi) return std::nullopt;
  BnCtxPtr ctx(BN_CTX_new());
  BignumPtr product(BN_new());
  BignumPtr pMinus1(BN_dup(p.get()));
  BignumPtr qMinus1(BN_dup(q.get()));
  BignumPtr reduced(BN_new());
  if (!ctx || !product || !pMinus1 || !qMinus1 || !reduced) return std::nullopt;
  // Each step must succeed and give the expected value; any failure is an inconsistent key.
  auto modEquals = [&](const BIGNUM* a, const BIGNUM* m, const BIGNUM* expected) {
    return BN_mod(reduced.get(), a, m, ctx.get()) == 1 && BN_cmp(reduced.get(), expected) == 0;
  };
  auto productModIsOne = [&](const BIGNUM* a, const BIGNUM* b, const BIGNUM* m) {
    return BN_mod_mul(reduced.get(), a, b, m, ctx.get()) == 1 && BN_is_one(reduced.get());
  };
  return BN_cmp(p.get(), BN_value_one()) > 0 && BN_cmp(q.get(), BN_value_one()) > 0 &&
         BN_mul(product.get(), p.get(), q.get(), ctx.get()) == 1 &&
         BN_cmp(product.get(), n.get()) == 0 && BN_cmp(d.get(), BN_value_one()) > 0 &&
         BN_cmp(d.get(), n.get()) < 0 && BN_sub_word(pMinus1.get(), 1) == 1 &&
         BN_sub_word(qMinus1.get(), 1) == 1 && modEquals(d.get(), pMinus1.get(), dp.get()) &&
         modEquals(d.get(), qMinus1.get(), dq.get()) &&
         productModIsOne(e.get(), dp.get(), pMinus1.get()) &&
         productModIsOne(e.get(), dq.get(), qMinus1.get()) && BN_cmp(qi.get(), p.get()) < 0 &&
         productModIsOne(qi.get(), q.get(), p.get());
}

}  // namespace

bool keyIsConsistent(EVP_PKEY* key, bool isPrivate) {
  int type = EVP_PKEY_get_base_id(key);
  if (type == EVP_PKEY_RSA || type == EVP_PKEY_RSA_PSS) {
    if (std::optional<bool> consistent = rsaIsConsistent(key, isPrivate)) return *consistent;
  }
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!ctx) return false;
  return isPrivate ? EVP_PKEY_pairwise_check(ctx.get()) == 1
                   : EVP_PKEY_public_check(ctx.get()) == 1;
}

void useUncompressedPoints(EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
    EVP_PKEY_set_utf8_string_param(key, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "uncompressed");
  }
}

Result<PkeyPtr> importRawPublicKey(std::string_view kind, std::string_view curve, ByteView raw) {
  if (kind == "EC") {
    size_t size = coordinateSize(curve);
    if (size == 0) return notSupported("unsupported named curve: " + std::string(curve));
    if (raw.size() != 1 + 2 * size || raw[0] != 0x04) {
      return dataError("the raw EC public key must be an uncompressed point on " +
                       std::string(curve));
    }
    return importEc(curve, raw, nullptr, true);
  }
  int type = okpType(kind);
  if (type == 0) return notSupported("raw import is not supported for " + std::string(kind));
  if (raw.size() != kOkpKeySize) {
    return dataError("the raw " + std::string(kind) + " public key must be 32 bytes");
  }
  PkeyPtr key(EVP_PKEY_new_raw_public_key(type, nullptr, raw.data(), raw.size()));
  if (!key) return dataError("the raw key is not a valid " + std::string(kind) + " key");
  return key;
}

Result<Bytes> exportRawPublicKey(EVP_PKEY* key) {
  int type = EVP_PKEY_get_base_id(key);
  if (type == EVP_PKEY_EC) {
    Result<JwkFields> fields = exportJwkKey(key, false);
    if (auto* error = std::get_if<CryptoError>(&fields)) return *error;
    const JwkFields& xy = std::get<JwkFields>(fields);
    Bytes point{0x04};
    point.insert(point.end(), xy.at("x").begin(), xy.at("x").end());
    point.insert(point.end(), xy.at("y").begin(), xy.at("y").end());
    return point;
  }
  if (type == EVP_PKEY_ED25519 || type == EVP_PKEY_X25519) {
    Bytes out(kOkpKeySize);
    size_t length = out.size();
    if (EVP_PKEY_get_raw_public_key(key, out.data(), &length) != 1 || length != kOkpKeySize) {
      return operationError("the public key could not be exported");
    }
    return out;
  }
  return notSupported("raw export is not supported for this key type");
}

namespace {

Result<PkeyPtr> buildFromJwk(std::string_view kind, std::string_view curve, bool isPrivate,
                             const JwkFields& fields, bool validate) {
  if (kind == "RSA") return importRsaJwk(isPrivate, fields, validate);
  if (kind == "EC") {
    size_t size = coordinateSize(curve);
    if (size == 0) return notSupported("unsupported named curve: " + std::string(curve));
    const Bytes* x = field(fields, "x");
    const Bytes* y = field(fields, "y");
    const Bytes* d = isPrivate ? field(fields, "d") : nullptr;
    if (!x || !y || x->size() != size || y->size() != size || (isPrivate && !d) ||
        (d && d->size() != size)) {
      return dataError("the EC JWK's coordinates must be " + std::to_string(size) +
                       " bytes each on " + std::string(curve));
    }
    Bytes point{0x04};
    point.insert(point.end(), x->begin(), x->end());
    point.insert(point.end(), y->begin(), y->end());
    return importEc(curve, viewOf(point), d, validate);
  }
  if (okpType(kind) != 0) return importOkpJwk(kind, isPrivate, fields, validate);
  return notSupported("JWK import is not supported for " + std::string(kind));
}

}  // namespace

Result<PkeyPtr> importJwkKey(std::string_view kind, std::string_view curve, bool isPrivate,
                             const JwkFields& fields) {
  return buildFromJwk(kind, curve, isPrivate, fields, true);
}

Result<PkeyPtr> rebuildKey(std::string_view kind, std::string_view curve, bool isPrivate,
                           const JwkFields& fields) {
  return buildFromJwk(kind, curve, isPrivate, fields, false);
}

Result<JwkFields> exportJwkKey(EVP_PKEY* key, bool isPrivate) {
  JwkFields fields;
  auto add = [&](const char* member, Result<Bytes> value) -> std::optional<CryptoError> {
    if (auto* error = std::get_if<CryptoError>(&value)) return *error;
    fields.emplace(member, std::move(std::get<Bytes>(value)));
    return std::nullopt;
  };
  int type = EVP_PKEY_get_base_id(key);
  std::optional<CryptoError> failed;
  if (type == EVP_PKEY_RSA) {
    const std::pair<const char*, const char*> publicMembers[] = {{"n", OSSL_PKEY_PARAM_RSA_N},
                                                                 {"e", OSSL_PKEY_PARAM_RSA_E}};
    const std::pair<const char*, const char*> privateMembers[] = {
        {"d", OSSL_PKEY_PARAM_RSA_D},          {"p", OSSL_PKEY_PARAM_RSA_FACTOR1},
        {"q", OSSL_PKEY_PARAM_RSA_FACTOR2},    {"dp", OSSL_PKEY_PARAM_RSA_EXPONENT1},
        {"dq", OSSL_PKEY_PARAM_RSA_EXPONENT2}, {"qi", OSSL_PKEY_PARAM_RSA_COEFFICIENT1}};
    for (auto [member, param] : publicMembers) {
      if ((failed = add(member, bignumParam(key, param)))) return *failed;
    }
    for (auto [member, param] : privateMembers) {
      if (isPrivate && (failed = add(member, bignumParam(key, param)))) return *failed;
    }
  } else if (type == EVP_PKEY_EC) {
    size_t size = coordinateSize(describeKey(key).curve);
    if (size == 0) return notSupported("unsupported named curve");
    if ((failed = add("x", bignumParam(key, OSSL_PKEY_PARAM_EC_PUB_X, size))) ||
        (failed = add("y", bignumParam(key, OSSL_PKEY_PARAM_EC_PUB_Y, size))) ||
        (isPrivate && (failed = add("d", bignumParam(key, OSSL_PKEY_PARAM_PRIV_KEY, size))))) {
      return *failed;
    }
  } else if (type == EVP_PKEY_ED25519 || type == EVP_PKEY_X25519) {
    if ((failed = add("x", exportRawPublicKey(key)))) return *failed;
    if (isPrivate) {
      Bytes d(kOkpKeySize);
      size_t length = d.size();
      if (EVP_PKEY_get_raw_private_key(key, d.data(), &length) != 1 || length != kOkpKeySize) {
        return operationError("the private key could not be exported");
      }
      fields.emplace("d", std::move(d));
    }
  } else {
    return notSupported("JWK export is not supported for this key type");
  }
  return fields;
}

}  // namespace isolated::worker::subtle
