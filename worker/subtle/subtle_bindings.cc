// V8 glue for crypto.subtle's primitives: see subtle_bindings.h.
#include "worker/subtle/subtle_bindings.h"

#include <openssl/err.h>

#include <climits>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "worker/subtle/aes.h"
#include "worker/subtle/digest.h"
#include "worker/subtle/hmac.h"
#include "worker/subtle/key_components.h"
#include "worker/subtle/key_der.h"
#include "worker/subtle/key_derivation.h"
#include "worker/subtle/key_generate.h"
#include "worker/subtle/rsa_oaep.h"
#include "worker/subtle/signature.h"

namespace isolated::worker::subtle {

namespace {

using Info = v8::FunctionCallbackInfo<v8::Value>;

v8::Local<v8::String> v8String(v8::Isolate* isolate, std::string_view text) {
  return v8::String::NewFromUtf8(isolate, text.data(), v8::NewStringType::kNormal,
                                 static_cast<int>(text.size()))
      .ToLocalChecked();
}

void throwError(v8::Isolate* isolate, const CryptoError& error) {
  if (error.name == "TypeError") {
    isolate->ThrowException(v8::Exception::TypeError(v8String(isolate, error.message)));
    return;
  }
  auto exception = v8::Exception::Error(v8String(isolate, error.message)).As<v8::Object>();
  exception
      ->Set(isolate->GetCurrentContext(), v8String(isolate, "name"), v8String(isolate, error.name))
      .Check();
  isolate->ThrowException(exception);
}

v8::Local<v8::ArrayBuffer> toArrayBuffer(v8::Isolate* isolate, const Bytes& bytes) {
  v8::Local<v8::ArrayBuffer> buffer = v8::ArrayBuffer::New(isolate, bytes.size());
  if (!bytes.empty()) std::memcpy(buffer->GetBackingStore()->Data(), bytes.data(), bytes.size());
  return buffer;
}

// The bytes of an ArrayBuffer or a view; false for anything else or more than OpenSSL's int
// lengths allow. `store` keeps the bytes alive.
bool bytesOf(v8::Local<v8::Value> value, std::shared_ptr<v8::BackingStore>& store,
             ByteView& bytes) {
  size_t offset = 0;
  size_t length = 0;
  if (value->IsArrayBuffer()) {
    store = value.As<v8::ArrayBuffer>()->GetBackingStore();
    length = store->ByteLength();
  } else if (value->IsArrayBufferView()) {
    auto view = value.As<v8::ArrayBufferView>();
    store = view->Buffer()->GetBackingStore();
    offset = view->ByteOffset();
    length = view->ByteLength();
  } else {
    return false;
  }
  if (length > INT_MAX) return false;
  bytes = length == 0 ? ByteView()
                      : ByteView(static_cast<const uint8_t*>(store->Data()) + offset, length);
  return true;
}

// {member: bytes} -> JwkFields; members whose value is not bytes are skipped.
bool readFields(v8::Isolate* isolate, v8::Local<v8::Value> value, JwkFields& fields) {
  if (!value->IsObject()) return false;
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  auto members = value.As<v8::Object>();
  v8::Local<v8::Array> names;
  if (!members->GetOwnPropertyNames(context).ToLocal(&names)) return false;
  for (uint32_t i = 0; i < names->Length(); ++i) {
    v8::Local<v8::Value> name;
    v8::Local<v8::Value> member;
    if (!names->Get(context, i).ToLocal(&name) || !members->Get(context, name).ToLocal(&member)) {
      return false;
    }
    std::shared_ptr<v8::BackingStore> store;
    ByteView bytes;
    if (!bytesOf(member, store, bytes)) continue;
    v8::String::Utf8Value utf8(isolate, name);
    fields.emplace(std::string(*utf8, static_cast<size_t>(utf8.length())),
                   Bytes(bytes.begin(), bytes.end()));
  }
  return true;
}

v8::Local<v8::Value> getMember(v8::Isolate* isolate, v8::Local<v8::Object> object,
                               const char* name) {
  return object->Get(isolate->GetCurrentContext(), v8String(isolate, name))
      .FromMaybe(v8::Local<v8::Value>(v8::Undefined(isolate)));
}

// Reads one call's arguments. The first malformed one records an error that `failed()`
// reports; later reads then return empty values, so a callback can read every argument and
// check once. Every callback makes one, so its destructor also empties OpenSSL's thread-local
// error queue: a failure (or a verification that failed) leaves no stale entries behind.
class Args {
 public:
  explicit Args(const Info& info) : info_(info), isolate_(info.GetIsolate()) {}
  ~Args() { ERR_clear_error(); }
  Args(const Args&) = delete;
  Args& operator=(const Args&) = delete;

  // The bytes of an ArrayBuffer or view argument, valid until this object is destroyed.
  ByteView bytes(int index) {
    std::shared_ptr<v8::BackingStore> store;
    ByteView bytes;
    if (!bytesOf(info_[index], store, bytes)) {
      fail(index, "must be a BufferSource of at most 2^31 - 1 bytes");
      return {};
    }
    stores_.push_back(std::move(store));
    return bytes;
  }

  std::string string(int index) {
    if (!info_[index]->IsString()) {
      fail(index, "must be a string");
      return {};
    }
    v8::String::Utf8Value utf8(isolate_, info_[index]);
    return std::string(*utf8, static_cast<size_t>(utf8.length()));
  }

  bool boolean(int index) { return info_[index]->BooleanValue(isolate_); }

  // A non-negative integer no larger than `max`.
  uint32_t integer(int index, uint32_t max = INT_MAX) {
    if (!info_[index]->IsUint32() || info_[index].As<v8::Uint32>()->Value() > max) {
      fail(index, "must be an integer between 0 and " + std::to_string(max));
      return 0;
    }
    return info_[index].As<v8::Uint32>()->Value();
  }

  JwkFields fields(int index) {
    JwkFields fields;
    if (!readFields(isolate_, info_[index], fields)) fail(index, "must be an object of bytes");
    return fields;
  }

  // An asymmetric key argument: the key material object worker/js keeps for a CryptoKey,
  // {kind, curve, fields}, built into an EVP_PKEY that lives as long as this object.
  EVP_PKEY* key(int index, bool isPrivate) {
    if (!info_[index]->IsObject()) {
      fail(index, "must be key material");
      return nullptr;
    }
    auto material = info_[index].As<v8::Object>();
    std::string kind = stringOf(getMember(isolate_, material, "kind"));
    std::string curve = stringOf(getMember(isolate_, material, "curve"));
    JwkFields fields;
    if (!readFields(isolate_, getMember(isolate_, material, "fields"), fields)) {
      fail(index, "has no key fields");
      return nullptr;
    }
    Result<PkeyPtr> built = rebuildKey(kind, curve, isPrivate, fields);
    if (auto* error = std::get_if<CryptoError>(&built)) {
      if (!error_) error_ = *error;
      return nullptr;
    }
    keys_.push_back(std::move(std::get<PkeyPtr>(built)));
    return keys_.back().get();
  }

  // True (and the error thrown) if an argument was malformed.
  bool failed() {
    if (error_) throwError(isolate_, *error_);
    return error_.has_value();
  }

 private:
  std::string stringOf(v8::Local<v8::Value> value) {
    v8::String::Utf8Value utf8(isolate_, value);
    return *utf8 ? std::string(*utf8, static_cast<size_t>(utf8.length())) : std::string();
  }

  void fail(int index, const std::string& problem) {
    if (!error_) {
      error_ = CryptoError{"TypeError", "argument " + std::to_string(index) + " " + problem};
    }
  }

  const Info& info_;
  v8::Isolate* isolate_;
  std::vector<std::shared_ptr<v8::BackingStore>> stores_;
  std::vector<PkeyPtr> keys_;
  std::optional<CryptoError> error_;
};

void returnBytes(const Info& info, Result<Bytes> result) {
  if (auto* error = std::get_if<CryptoError>(&result)) return throwError(info.GetIsolate(), *error);
  info.GetReturnValue().Set(toArrayBuffer(info.GetIsolate(), std::get<Bytes>(result)));
}

void returnBool(const Info& info, Result<bool> result) {
  if (auto* error = std::get_if<CryptoError>(&result)) return throwError(info.GetIsolate(), *error);
  info.GetReturnValue().Set(std::get<bool>(result));
}

// {kind, curve, modulusLength, publicExponent, der, fields} for a key: the DER (pkcs8 when
// `isPrivate`, else spki) and the JWK fields (private members only when `isPrivate`)
// re-encoded from the parsed key. Empty, with the exception thrown, on failure.
v8::MaybeLocal<v8::Object> describe(v8::Isolate* isolate, EVP_PKEY* key, bool isPrivate) {
  useUncompressedPoints(key);
  Result<Bytes> der = isPrivate ? encodePkcs8(key) : encodeSpki(key);
  if (auto* error = std::get_if<CryptoError>(&der)) {
    throwError(isolate, *error);
    return {};
  }
  Result<JwkFields> fields = exportJwkKey(key, isPrivate);
  if (auto* error = std::get_if<CryptoError>(&fields)) {
    throwError(isolate, *error);
    return {};
  }
  KeyDescription description = describeKey(key);
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  v8::Local<v8::Object> fieldsObject = v8::Object::New(isolate);
  for (const auto& [name, value] : std::get<JwkFields>(fields)) {
    fieldsObject->Set(context, v8String(isolate, name), toArrayBuffer(isolate, value)).Check();
  }
  v8::Local<v8::Object> out = v8::Object::New(isolate);
  auto set = [&](const char* name, v8::Local<v8::Value> value) {
    out->Set(context, v8String(isolate, name), value).Check();
  };
  set("kind", v8String(isolate, description.kind));
  set("curve", v8String(isolate, description.curve));
  set("modulusLength", v8::Integer::New(isolate, description.modulusLength));
  set("publicExponent", toArrayBuffer(isolate, description.publicExponent));
  set("der", toArrayBuffer(isolate, std::get<Bytes>(der)));
  set("fields", fieldsObject);
  return out;
}

void returnImported(const Info& info, Result<PkeyPtr> result, bool isPrivate) {
  v8::Isolate* isolate = info.GetIsolate();
  if (auto* error = std::get_if<CryptoError>(&result)) return throwError(isolate, *error);
  v8::Local<v8::Object> description;
  if (describe(isolate, std::get<PkeyPtr>(result).get(), isPrivate).ToLocal(&description)) {
    info.GetReturnValue().Set(description);
  }
}

// digest(hash, data) -> ArrayBuffer
void digestCallback(const Info& info) {
  Args args(info);
  std::string hash = args.string(0);
  ByteView data = args.bytes(1);
  if (args.failed()) return;
  returnBytes(info, digest(hash, data));
}

// hmacSign(hash, key, data) -> ArrayBuffer
void hmacSignCallback(const Info& info) {
  Args args(info);
  std::string hash = args.string(0);
  ByteView key = args.bytes(1);
  ByteView data = args.bytes(2);
  if (args.failed()) return;
  returnBytes(info, hmacSign(hash, key, data));
}

// hmacVerify(hash, key, signature, data) -> boolean
void hmacVerifyCallback(const Info& info) {
  Args args(info);
  std::string hash = args.string(0);
  ByteView key = args.bytes(1);
  ByteView signature = args.bytes(2);
  ByteView data = args.bytes(3);
  if (args.failed()) return;
  returnBool(info, hmacVerify(hash, key, data, signature));
}

// aesGcm(encrypt, key, iv, data, additionalData, tagLengthBits) -> ArrayBuffer
void aesGcmCallback(const Info& info) {
  Args args(info);
  bool encrypt = args.boolean(0);
  ByteView key = args.bytes(1);
  ByteView iv = args.bytes(2);
  ByteView data = args.bytes(3);
  ByteView additionalData = args.bytes(4);
  uint32_t tagLength = args.integer(5, 128);
  if (args.failed()) return;
  returnBytes(info, aesGcm(encrypt, key, iv, data, additionalData, static_cast<int>(tagLength)));
}

// aesCbc(encrypt, key, iv, data) -> ArrayBuffer
void aesCbcCallback(const Info& info) {
  Args args(info);
  bool encrypt = args.boolean(0);
  ByteView key = args.bytes(1);
  ByteView iv = args.bytes(2);
  ByteView data = args.bytes(3);
  if (args.failed()) return;
  returnBytes(info, aesCbc(encrypt, key, iv, data));
}

// aesCtr(key, counter, lengthBits, data) -> ArrayBuffer
void aesCtrCallback(const Info& info) {
  Args args(info);
  ByteView key = args.bytes(0);
  ByteView counter = args.bytes(1);
  uint32_t length = args.integer(2, 255);
  ByteView data = args.bytes(3);
  if (args.failed()) return;
  returnBytes(info, aesCtr(key, counter, static_cast<int>(length), data));
}

// aesKw(wrap, key, data) -> ArrayBuffer
void aesKwCallback(const Info& info) {
  Args args(info);
  bool wrap = args.boolean(0);
  ByteView key = args.bytes(1);
  ByteView data = args.bytes(2);
  if (args.failed()) return;
  returnBytes(info, aesKw(wrap, key, data));
}

// generateKeyPair(kind, curve, modulusLength, publicExponent)
//   -> [private description, public description] (see describe)
void generateKeyPairCallback(const Info& info) {
  v8::Isolate* isolate = info.GetIsolate();
  Args args(info);
  std::string kind = args.string(0);
  std::string curve = args.string(1);
  uint32_t modulusLength = args.integer(2);
  ByteView publicExponent = args.bytes(3);
  if (args.failed()) return;
  Result<PkeyPtr> key =
      generateKeyPair(kind, curve, static_cast<int>(modulusLength), publicExponent);
  if (auto* error = std::get_if<CryptoError>(&key)) return throwError(isolate, *error);
  v8::Local<v8::Object> privateKey;
  v8::Local<v8::Object> publicKey;
  if (!describe(isolate, std::get<PkeyPtr>(key).get(), true).ToLocal(&privateKey) ||
      !describe(isolate, std::get<PkeyPtr>(key).get(), false).ToLocal(&publicKey)) {
    return;
  }
  v8::Local<v8::Value> pair[] = {privateKey, publicKey};
  info.GetReturnValue().Set(v8::Array::New(isolate, pair, 2));
}

// importDer(isPrivate, der) -> description (see returnImported)
void importDerCallback(const Info& info) {
  Args args(info);
  bool isPrivate = args.boolean(0);
  ByteView der = args.bytes(1);
  if (args.failed()) return;
  Result<PkeyPtr> key = isPrivate ? parsePkcs8(der) : parseSpki(der);
  // Operations later rebuild the key without checks: check it once here.
  if (auto* parsed = std::get_if<PkeyPtr>(&key);
      parsed && !keyIsConsistent(parsed->get(), isPrivate)) {
    return throwError(info.GetIsolate(), dataError("the key's parts do not form a valid key"));
  }
  returnImported(info, std::move(key), isPrivate);
}

// importRaw(kind, curve, raw) -> description of the public key
void importRawCallback(const Info& info) {
  Args args(info);
  std::string kind = args.string(0);
  std::string curve = args.string(1);
  ByteView raw = args.bytes(2);
  if (args.failed()) return;
  returnImported(info, importRawPublicKey(kind, curve, raw), false);
}

// importJwk(kind, curve, isPrivate, {member: bytes}) -> description
void importJwkCallback(const Info& info) {
  Args args(info);
  std::string kind = args.string(0);
  std::string curve = args.string(1);
  bool isPrivate = args.boolean(2);
  JwkFields fields = args.fields(3);
  if (args.failed()) return;
  returnImported(info, importJwkKey(kind, curve, isPrivate, fields), isPrivate);
}

// sign(kind, hash, saltLength, privateKey, data) -> ArrayBuffer; keys are key material
// objects (see Args::key).
void signCallback(const Info& info) {
  Args args(info);
  std::string kind = args.string(0);
  std::string hash = args.string(1);
  uint32_t saltLength = args.integer(2);
  EVP_PKEY* key = args.key(3, true);
  ByteView data = args.bytes(4);
  if (args.failed()) return;
  returnBytes(info, sign({kind, hash, static_cast<int>(saltLength)}, key, data));
}

// verify(kind, hash, saltLength, publicKey, signature, data) -> boolean
void verifyCallback(const Info& info) {
  Args args(info);
  std::string kind = args.string(0);
  std::string hash = args.string(1);
  uint32_t saltLength = args.integer(2);
  EVP_PKEY* key = args.key(3, false);
  ByteView signature = args.bytes(4);
  ByteView data = args.bytes(5);
  if (args.failed()) return;
  returnBool(info, verify({kind, hash, static_cast<int>(saltLength)}, key, signature, data));
}

// rsaOaep(encrypt, hash, key, label, data) -> ArrayBuffer: a public key to encrypt, a
// private one to decrypt.
void rsaOaepCallback(const Info& info) {
  Args args(info);
  bool encrypt = args.boolean(0);
  std::string hash = args.string(1);
  EVP_PKEY* key = args.key(2, !encrypt);
  ByteView label = args.bytes(3);
  ByteView data = args.bytes(4);
  if (args.failed()) return;
  returnBytes(info, rsaOaep(encrypt, hash, key, label, data));
}

// pbkdf2(hash, password, salt, iterations, lengthBytes) -> ArrayBuffer
void pbkdf2Callback(const Info& info) {
  Args args(info);
  std::string hash = args.string(0);
  ByteView password = args.bytes(1);
  ByteView salt = args.bytes(2);
  uint32_t iterations = args.integer(3, UINT32_MAX);
  uint32_t length = args.integer(4);
  if (args.failed()) return;
  returnBytes(info, pbkdf2(hash, password, salt, iterations, length));
}

// hkdf(hash, key, salt, info, lengthBytes) -> ArrayBuffer
void hkdfCallback(const Info& info) {
  Args args(info);
  std::string hash = args.string(0);
  ByteView key = args.bytes(1);
  ByteView salt = args.bytes(2);
  ByteView infoBytes = args.bytes(3);
  uint32_t length = args.integer(4);
  if (args.failed()) return;
  returnBytes(info, hkdf(hash, key, salt, infoBytes, length));
}

// deriveSharedSecret(privateKey, publicKey) -> ArrayBuffer
void deriveSharedSecretCallback(const Info& info) {
  Args args(info);
  EVP_PKEY* own = args.key(0, true);
  EVP_PKEY* peer = args.key(1, false);
  if (args.failed()) return;
  returnBytes(info, deriveSharedSecret(own, peer));
}

constexpr NativeFunction kFunctions[] = {
    {"digest", &digestCallback},
    {"hmacSign", &hmacSignCallback},
    {"hmacVerify", &hmacVerifyCallback},
    {"aesGcm", &aesGcmCallback},
    {"aesCbc", &aesCbcCallback},
    {"aesCtr", &aesCtrCallback},
    {"aesKw", &aesKwCallback},
    {"generateKeyPair", &generateKeyPairCallback},
    {"importDer", &importDerCallback},
    {"importRaw", &importRawCallback},
    {"importJwk", &importJwkCallback},
    {"sign", &signCallback},
    {"verify", &verifyCallback},
    {"rsaOaep", &rsaOaepCallback},
    {"pbkdf2", &pbkdf2Callback},
    {"hkdf", &hkdfCallback},
    {"deriveSharedSecret", &deriveSharedSecretCallback},
};

}  // namespace

std::span<const NativeFunction> subtleFunctions() {
  return kFunctions;
}

void installSubtle(v8::Isolate* isolate, v8::Local<v8::Context> context,
                   v8::Local<v8::Object> native) {
  installNamespace(isolate, context, native, "subtle", subtleFunctions());
}

}  // namespace isolated::worker::subtle
