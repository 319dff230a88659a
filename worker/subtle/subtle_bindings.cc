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
    v8::Local<v8::Value> value = info_[index];
    std::shared_ptr<v8::BackingStore> store;
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
      fail(index, "must be a BufferSource");
      return {};
    }
    // OpenSSL takes int lengths.
    if (length > INT_MAX) {
      fail(index, "is too large");
      return {};
    }
    stores_.push_back(store);
    if (length == 0) return {};
    return {static_cast<const uint8_t*>(store->Data()) + offset, length};
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

  v8::Local<v8::Object> object(int index) {
    if (!info_[index]->IsObject()) {
      fail(index, "must be an object");
      return v8::Object::New(isolate_);
    }
    return info_[index].As<v8::Object>();
  }

  // True (and the TypeError thrown) if an argument was malformed.
  bool failed() {
    if (error_) throwError(isolate_, *error_);
    return error_.has_value();
  }

 private:
  void fail(int index, const std::string& problem) {
    if (!error_)
      error_ = CryptoError{"TypeError", "argument " + std::to_string(index) + " " + problem};
  }

  const Info& info_;
  v8::Isolate* isolate_;
  std::vector<std::shared_ptr<v8::BackingStore>> stores_;
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

// {kind, curve, modulusLength, publicExponent, der} for an imported key, the DER re-encoded
// from the parsed key (pkcs8 when `isPrivate`, else spki).
void returnImported(const Info& info, Result<PkeyPtr> result, bool isPrivate) {
  v8::Isolate* isolate = info.GetIsolate();
  if (auto* error = std::get_if<CryptoError>(&result)) return throwError(isolate, *error);
  EVP_PKEY* key = std::get<PkeyPtr>(result).get();
  useUncompressedPoints(key);
  Result<Bytes> der = isPrivate ? encodePkcs8(key) : encodeSpki(key);
  if (auto* error = std::get_if<CryptoError>(&der)) return throwError(isolate, *error);
  KeyDescription description = describeKey(key);
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  v8::Local<v8::Object> out = v8::Object::New(isolate);
  auto set = [&](const char* name, v8::Local<v8::Value> value) {
    out->Set(context, v8String(isolate, name), value).Check();
  };
  set("kind", v8String(isolate, description.kind));
  set("curve", v8String(isolate, description.curve));
  set("modulusLength", v8::Integer::New(isolate, description.modulusLength));
  set("publicExponent", toArrayBuffer(isolate, description.publicExponent));
  set("der", toArrayBuffer(isolate, std::get<Bytes>(der)));
  info.GetReturnValue().Set(out);
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

// generateKeyPair(kind, curve, modulusLength, publicExponent) -> [pkcs8, spki]
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
  useUncompressedPoints(std::get<PkeyPtr>(key).get());
  Result<Bytes> pkcs8 = encodePkcs8(std::get<PkeyPtr>(key).get());
  Result<Bytes> spki = encodeSpki(std::get<PkeyPtr>(key).get());
  if (auto* error = std::get_if<CryptoError>(&pkcs8)) return throwError(isolate, *error);
  if (auto* error = std::get_if<CryptoError>(&spki)) return throwError(isolate, *error);
  v8::Local<v8::Value> pair[] = {toArrayBuffer(isolate, std::get<Bytes>(pkcs8)),
                                 toArrayBuffer(isolate, std::get<Bytes>(spki))};
  info.GetReturnValue().Set(v8::Array::New(isolate, pair, 2));
}

// importDer(isPrivate, der) -> description (see returnImported)
void importDerCallback(const Info& info) {
  Args args(info);
  bool isPrivate = args.boolean(0);
  ByteView der = args.bytes(1);
  if (args.failed()) return;
  returnImported(info, isPrivate ? parsePkcs8(der) : parseSpki(der), isPrivate);
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
  v8::Isolate* isolate = info.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  Args args(info);
  std::string kind = args.string(0);
  std::string curve = args.string(1);
  bool isPrivate = args.boolean(2);
  v8::Local<v8::Object> members = args.object(3);
  if (args.failed()) return;
  JwkFields fields;
  v8::Local<v8::Array> names;
  if (!members->GetOwnPropertyNames(context).ToLocal(&names)) return;
  for (uint32_t i = 0; i < names->Length(); ++i) {
    v8::Local<v8::Value> name;
    v8::Local<v8::Value> value;
    if (!names->Get(context, i).ToLocal(&name) || !members->Get(context, name).ToLocal(&value)) {
      return;
    }
    if (!value->IsArrayBufferView()) continue;
    auto view = value.As<v8::ArrayBufferView>();
    Bytes bytes(view->ByteLength());
    view->CopyContents(bytes.data(), bytes.size());
    v8::String::Utf8Value utf8(isolate, name);
    fields.emplace(std::string(*utf8, static_cast<size_t>(utf8.length())), std::move(bytes));
  }
  returnImported(info, importJwkKey(kind, curve, isPrivate, fields), isPrivate);
}

// exportRaw(spki) -> ArrayBuffer
void exportRawCallback(const Info& info) {
  Args args(info);
  ByteView spki = args.bytes(0);
  if (args.failed()) return;
  Result<PkeyPtr> key = parseSpki(spki);
  if (auto* error = std::get_if<CryptoError>(&key)) return throwError(info.GetIsolate(), *error);
  returnBytes(info, exportRawPublicKey(std::get<PkeyPtr>(key).get()));
}

// exportJwk(isPrivate, der) -> {member: ArrayBuffer}
void exportJwkCallback(const Info& info) {
  v8::Isolate* isolate = info.GetIsolate();
  Args args(info);
  bool isPrivate = args.boolean(0);
  ByteView der = args.bytes(1);
  if (args.failed()) return;
  Result<PkeyPtr> key = isPrivate ? parsePkcs8(der) : parseSpki(der);
  if (auto* error = std::get_if<CryptoError>(&key)) return throwError(isolate, *error);
  Result<JwkFields> fields = exportJwkKey(std::get<PkeyPtr>(key).get(), isPrivate);
  if (auto* error = std::get_if<CryptoError>(&fields)) return throwError(isolate, *error);
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  v8::Local<v8::Object> out = v8::Object::New(isolate);
  for (const auto& [name, value] : std::get<JwkFields>(fields)) {
    out->Set(context, v8String(isolate, name), toArrayBuffer(isolate, value)).Check();
  }
  info.GetReturnValue().Set(out);
}

// sign(kind, hash, saltLength, pkcs8, data) -> ArrayBuffer
void signCallback(const Info& info) {
  Args args(info);
  std::string kind = args.string(0);
  std::string hash = args.string(1);
  uint32_t saltLength = args.integer(2);
  ByteView pkcs8 = args.bytes(3);
  ByteView data = args.bytes(4);
  if (args.failed()) return;
  returnBytes(info, sign({kind, hash, static_cast<int>(saltLength)}, pkcs8, data));
}

// verify(kind, hash, saltLength, spki, signature, data) -> boolean
void verifyCallback(const Info& info) {
  Args args(info);
  std::string kind = args.string(0);
  std::string hash = args.string(1);
  uint32_t saltLength = args.integer(2);
  ByteView spki = args.bytes(3);
  ByteView signature = args.bytes(4);
  ByteView data = args.bytes(5);
  if (args.failed()) return;
  returnBool(info, verify({kind, hash, static_cast<int>(saltLength)}, spki, signature, data));
}

// rsaOaep(encrypt, hash, der, label, data) -> ArrayBuffer
void rsaOaepCallback(const Info& info) {
  Args args(info);
  bool encrypt = args.boolean(0);
  std::string hash = args.string(1);
  ByteView der = args.bytes(2);
  ByteView label = args.bytes(3);
  ByteView data = args.bytes(4);
  if (args.failed()) return;
  returnBytes(info, rsaOaep(encrypt, hash, der, label, data));
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

// deriveSharedSecret(privatePkcs8, publicSpki) -> ArrayBuffer
void deriveSharedSecretCallback(const Info& info) {
  Args args(info);
  ByteView own = args.bytes(0);
  ByteView peer = args.bytes(1);
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
    {"exportRaw", &exportRawCallback},
    {"exportJwk", &exportJwkCallback},
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
  v8::Local<v8::Object> subtle = v8::Object::New(isolate);
  installFunctions(isolate, context, subtle, subtleFunctions());
  native->Set(context, v8String(isolate, "subtle"), subtle).Check();
}

}  // namespace isolated::worker::subtle
