// Native web-platform primitives: see web_bindings.h.
#include "worker/web_bindings.h"

#include <openssl/rand.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "worker/function_table.h"
#include "worker/legacy_codec.h"
#include "worker/text_codec.h"
#include "worker/v8_values.h"

namespace isolated::worker {

namespace {

// Throws an Error whose `name` is a DOMException name (DOMException itself is not a global
// yet); scripts that test `error.name` see what the spec promises.
void throwNamedError(v8::Isolate* isolate, std::string_view name, std::string_view message) {
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  auto error = v8::Exception::Error(v8String(isolate, message)).As<v8::Object>();
  error->Set(context, v8String(isolate, "name"), v8String(isolate, name)).Check();
  isolate->ThrowException(error);
}

// The bytes of an ArrayBuffer or view; false when `value` is neither. The span is valid while
// the backing store is held.
bool bytesOf(v8::Local<v8::Value> value, std::shared_ptr<v8::BackingStore>& store,
             std::basic_string_view<uint8_t>& bytes) {
  if (value->IsArrayBuffer()) {
    store = value.As<v8::ArrayBuffer>()->GetBackingStore();
    bytes = {static_cast<const uint8_t*>(store->Data()), store->ByteLength()};
    return true;
  }
  if (value->IsArrayBufferView()) {
    auto view = value.As<v8::ArrayBufferView>();
    store = view->Buffer()->GetBackingStore();
    bytes = {static_cast<const uint8_t*>(store->Data()) + view->ByteOffset(), view->ByteLength()};
    return true;
  }
  return false;
}

bool toUtf16(v8::Isolate* isolate, v8::Local<v8::Value> value, std::u16string& out) {
  v8::Local<v8::String> text;
  if (!value->ToString(isolate->GetCurrentContext()).ToLocal(&text)) return false;
  out.resize(static_cast<size_t>(text->Length()));
  text->Write(isolate, reinterpret_cast<uint16_t*>(out.data()), 0, text->Length(),
              v8::String::NO_NULL_TERMINATION);
  return true;
}

v8::Local<v8::String> fromUtf16(v8::Isolate* isolate, const std::u16string& text) {
  return v8::String::NewFromTwoByte(isolate, reinterpret_cast<const uint16_t*>(text.data()),
                                    v8::NewStringType::kNormal, static_cast<int>(text.size()))
      .ToLocalChecked();
}

// structuredClone's serializer: V8 asks its delegate to throw when a value cannot be cloned,
// and to write a host object (an API object: the runtime's DOMException and CryptoKey are made
// through native.HostObject, see worker/js/host_object.js). `toCloneable(object)` turns one
// into plain data, written in its place; undefined means it cannot be cloned.
class CloneDelegate final : public v8::ValueSerializer::Delegate {
 public:
  CloneDelegate(v8::Isolate* isolate, v8::Local<v8::Value> toCloneable)
      : isolate_(isolate), toCloneable_(toCloneable) {}
  void setSerializer(v8::ValueSerializer* serializer) { serializer_ = serializer; }

  void ThrowDataCloneError(v8::Local<v8::String> message) override {
    v8::String::Utf8Value utf8(isolate_, message);
    throwNamedError(isolate_, "DataCloneError", *utf8 ? *utf8 : "the value cannot be cloned");
  }

  v8::Maybe<bool> WriteHostObject(v8::Isolate* isolate, v8::Local<v8::Object> object) override {
    v8::Local<v8::Context> context = isolate->GetCurrentContext();
    v8::Local<v8::Value> arg = object;
    v8::Local<v8::Value> data;
    if (serializer_ == nullptr || !toCloneable_->IsFunction()) {
      throwNamedError(isolate, "DataCloneError", "the object cannot be cloned");
      return v8::Nothing<bool>();
    }
    if (!toCloneable_.As<v8::Function>()
             ->Call(context, v8::Undefined(isolate), 1, &arg)
             .ToLocal(&data)) {
      return v8::Nothing<bool>();
    }
    if (data->IsUndefined()) {
      throwNamedError(isolate, "DataCloneError", "the object cannot be cloned");
      return v8::Nothing<bool>();
    }
    return serializer_->WriteValue(context, data);
  }

 private:
  v8::Isolate* isolate_;
  v8::Local<v8::Value> toCloneable_;
  v8::ValueSerializer* serializer_ = nullptr;
};

// The other half. V8 runs no JavaScript while it deserialises, so a host object is read back
// as a placeholder (a new object with one internal field) and its data; once the whole copy is
// read, finish() calls `fromCloneable(placeholder, data)` for each, which makes the placeholder
// the object it stands for (worker/js/host_object.js adopts it).
class RestoreDelegate final : public v8::ValueDeserializer::Delegate {
 public:
  RestoreDelegate(v8::Isolate* isolate, v8::Local<v8::Value> fromCloneable)
      : isolate_(isolate), fromCloneable_(fromCloneable) {}
  void setDeserializer(v8::ValueDeserializer* deserializer) { deserializer_ = deserializer; }

  v8::MaybeLocal<v8::Object> ReadHostObject(v8::Isolate* isolate) override {
    v8::Local<v8::Context> context = isolate->GetCurrentContext();
    v8::Local<v8::Value> data;
    if (deserializer_ == nullptr || !fromCloneable_->IsFunction()) {
      throwNamedError(isolate, "DataCloneError", "the object cannot be cloned");
      return {};
    }
    if (!deserializer_->ReadValue(context).ToLocal(&data)) return {};
    v8::Local<v8::ObjectTemplate> shape = v8::ObjectTemplate::New(isolate);
    shape->SetInternalFieldCount(1);
    v8::Local<v8::Object> placeholder;
    if (!shape->NewInstance(context).ToLocal(&placeholder)) return {};
    pending_.emplace_back(v8::Global<v8::Object>(isolate, placeholder),
                          v8::Global<v8::Value>(isolate, data));
    return placeholder;
  }

  // Turns every placeholder into its object; false with an exception pending if one fails.
  bool finish(v8::Local<v8::Context> context) {
    for (auto& [placeholder, data] : pending_) {
      v8::Local<v8::Value> args[] = {placeholder.Get(isolate_), data.Get(isolate_)};
      if (fromCloneable_.As<v8::Function>()
              ->Call(context, v8::Undefined(isolate_), 2, args)
              .IsEmpty()) {
        return false;
      }
    }
    return true;
  }

 private:
  v8::Isolate* isolate_;
  v8::Local<v8::Value> fromCloneable_;
  v8::ValueDeserializer* deserializer_ = nullptr;
  std::vector<std::pair<v8::Global<v8::Object>, v8::Global<v8::Value>>> pending_;
};

}  // namespace

std::span<const NativeFunction> WebBindings::functions() {
  static constexpr NativeFunction kFunctions[] = {
      {"encodeUtf8Into", &WebBindings::encodeUtf8Into},
      {"decodeUtf8Chunk", &WebBindings::decodeUtf8Chunk},
      {"decodeLegacyChunk", &WebBindings::decodeLegacyChunk},
      {"btoa", &WebBindings::btoa},
      {"atob", &WebBindings::atob},
      {"getRandomValues", &WebBindings::getRandomValues},
      {"randomUUID", &WebBindings::randomUUID},
      {"structuredClone", &WebBindings::structuredClone},
      {"monotonicNow", &WebBindings::monotonicNow},
      {"wallClockNow", &WebBindings::wallClockNow},
  };
  return kFunctions;
}

void WebBindings::install(v8::Isolate* isolate, v8::Local<v8::Context> context,
                          v8::Local<v8::Object> native) {
  installFunctions(isolate, context, native, functions());
  // HostObject: a constructor without a callback whose instances have one internal field, so
  // that V8's serializer hands them to CloneDelegate::WriteHostObject. It is never called for
  // its own sake; worker/js/host_object.js constructs it with a subclass as new.target.
  v8::Local<v8::FunctionTemplate> hostObject = v8::FunctionTemplate::New(isolate);
  hostObject->InstanceTemplate()->SetInternalFieldCount(1);
  native
      ->Set(context, v8String(isolate, "HostObject"),
            hostObject->GetFunction(context).ToLocalChecked())
      .Check();
}

void WebBindings::encodeUtf8Into(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  std::u16string text;
  if (!toUtf16(isolate, info[0], text)) return;
  if (!info[1]->IsUint8Array()) {
    throwTypeError(isolate, "TextEncoder.encodeInto: the destination must be a Uint8Array");
    return;
  }
  auto dest = info[1].As<v8::Uint8Array>();
  auto store = dest->Buffer()->GetBackingStore();
  auto* data = static_cast<uint8_t*>(store->Data()) + dest->ByteOffset();
  Utf8EncodeResult encoded = worker::encodeUtf8Into(text, data, dest->ByteLength());
  v8::Local<v8::Object> result = v8::Object::New(isolate);
  result->Set(context, v8String(isolate, "read"), v8::Number::New(isolate, encoded.read)).Check();
  result->Set(context, v8String(isolate, "written"), v8::Number::New(isolate, encoded.written))
      .Check();
  info.GetReturnValue().Set(result);
}

void WebBindings::decodeUtf8Chunk(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  std::shared_ptr<v8::BackingStore> store;
  std::basic_string_view<uint8_t> bytes;
  if (!bytesOf(info[0], store, bytes)) {
    throwTypeError(isolate, "TextDecoder.decode: the input must be an ArrayBuffer or a view");
    return;
  }
  std::u16string text;
  Utf8DecodeResult decoded =
      decodeUtf8(bytes, info[1]->BooleanValue(isolate), info[2]->BooleanValue(isolate), text);
  if (!decoded.ok) {
    throwTypeError(isolate, "TextDecoder.decode: the encoded data was not valid UTF-8");
    return;
  }
  v8::Local<v8::Value> parts[] = {fromUtf16(isolate, text),
                                  v8::Number::New(isolate, static_cast<double>(decoded.pending))};
  info.GetReturnValue().Set(v8::Array::New(isolate, parts, 2));
}

void WebBindings::decodeLegacyChunk(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  v8::String::Utf8Value name(isolate, info[0]);
  std::shared_ptr<v8::BackingStore> store;
  std::basic_string_view<uint8_t> bytes;
  if (*name == nullptr || !bytesOf(info[1], store, bytes)) {
    throwTypeError(isolate, "TextDecoder.decode: the input must be an ArrayBuffer or a view");
    return;
  }
  std::u16string text;
  LegacyDecodeResult decoded =
      decodeLegacy(std::string(*name, name.length()), bytes, info[2]->BooleanValue(isolate),
                   !info[3]->BooleanValue(isolate), text);
  switch (decoded.status) {
    case LegacyDecodeResult::Status::kUnknownEncoding:
      throwTypeError(isolate, std::string("TextDecoder: ICU has no converter for ") + *name);
      return;
    case LegacyDecodeResult::Status::kInvalid:
      throwTypeError(isolate,
                     std::string("TextDecoder.decode: the encoded data was not valid ") + *name);
      return;
    case LegacyDecodeResult::Status::kOk:
      break;
  }
  v8::Local<v8::Value> parts[] = {
      fromUtf16(isolate, text),
      v8::Number::New(isolate, static_cast<double>(decoded.pendingBytes))};
  info.GetReturnValue().Set(v8::Array::New(isolate, parts, 2));
}

void WebBindings::btoa(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  if (info.Length() < 1) {
    throwTypeError(isolate, "btoa: 1 argument required, but only 0 present");
    return;
  }
  std::u16string text;
  if (!toUtf16(isolate, info[0], text)) return;
  std::basic_string<uint8_t> bytes;
  bytes.reserve(text.size());
  for (char16_t c : text) {
    if (c > 0xFF) {
      throwNamedError(isolate, "InvalidCharacterError",
                      "btoa: the string contains characters outside of the Latin1 range");
      return;
    }
    bytes.push_back(static_cast<uint8_t>(c));
  }
  info.GetReturnValue().Set(v8String(isolate, base64Encode(bytes)));
}

void WebBindings::atob(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  if (info.Length() < 1) {
    throwTypeError(isolate, "atob: 1 argument required, but only 0 present");
    return;
  }
  std::u16string text;
  if (!toUtf16(isolate, info[0], text)) return;
  auto decoded = forgivingBase64Decode(text);
  if (!decoded) {
    throwNamedError(isolate, "InvalidCharacterError",
                    "atob: the string to be decoded is not correctly encoded");
    return;
  }
  // Each byte is one Latin1 character of the result.
  info.GetReturnValue().Set(
      v8::String::NewFromOneByte(isolate, reinterpret_cast<const uint8_t*>(decoded->data()),
                                 v8::NewStringType::kNormal, static_cast<int>(decoded->size()))
          .ToLocalChecked());
}

void WebBindings::getRandomValues(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  v8::Local<v8::Value> array = info[0];
  bool integerArray = array->IsInt8Array() || array->IsUint8Array() ||
                      array->IsUint8ClampedArray() || array->IsInt16Array() ||
                      array->IsUint16Array() || array->IsInt32Array() || array->IsUint32Array() ||
                      array->IsBigInt64Array() || array->IsBigUint64Array();
  if (!integerArray) {
    throwTypeError(isolate,
                   "crypto.getRandomValues: the argument must be an integer-type TypedArray");
    return;
  }
  auto view = array.As<v8::ArrayBufferView>();
  size_t length = view->ByteLength();
  if (length > 65536) {
    throwNamedError(isolate, "QuotaExceededError",
                    "crypto.getRandomValues: the ArrayBufferView's byte length (" +
                        std::to_string(length) +
                        ") exceeds the number of bytes of entropy "
                        "available via this API (65536)");
    return;
  }
  auto store = view->Buffer()->GetBackingStore();
  auto* data = static_cast<unsigned char*>(store->Data()) + view->ByteOffset();
  if (length > 0 && RAND_bytes(data, static_cast<int>(length)) != 1) {
    throwNamedError(isolate, "OperationError", "crypto.getRandomValues: no entropy available");
    return;
  }
  info.GetReturnValue().Set(array);
}

void WebBindings::randomUUID(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    throwNamedError(isolate, "OperationError", "crypto.randomUUID: no entropy available");
    return;
  }
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0F) | 0x40);  // version 4
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3F) | 0x80);  // variant 10xx
  static constexpr char kHex[] = "0123456789abcdef";
  std::string uuid;
  uuid.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) uuid.push_back('-');
    uuid.push_back(kHex[bytes[i] >> 4]);
    uuid.push_back(kHex[bytes[i] & 0x0F]);
  }
  info.GetReturnValue().Set(v8String(isolate, uuid));
}

namespace {

// The ArrayBuffers of structuredClone's transfer list, checked as HTML's
// StructuredSerializeWithTransfer checks them (all before anything is detached, so a refused
// transfer leaves every buffer as it was). False with a DataCloneError (or a TypeError for a
// buffer that cannot be detached, such as a WebAssembly.Memory's) pending.
bool transferBuffers(v8::Isolate* isolate, v8::Local<v8::Context> context,
                     v8::Local<v8::Value> list, std::vector<v8::Local<v8::ArrayBuffer>>& out) {
  if (list->IsUndefined()) return true;
  if (!list->IsArray()) {
    throwTypeError(isolate, "structuredClone: the transfer list must be an array");
    return false;
  }
  auto array = list.As<v8::Array>();
  for (uint32_t i = 0; i < array->Length(); ++i) {
    v8::Local<v8::Value> item;
    if (!array->Get(context, i).ToLocal(&item)) return false;
    if (!item->IsArrayBuffer()) {
      throwNamedError(isolate, "DataCloneError",
                      item->IsSharedArrayBuffer()
                          ? "structuredClone: a SharedArrayBuffer cannot be transferred"
                          : "structuredClone: only ArrayBuffers can be transferred");
      return false;
    }
    auto buffer = item.As<v8::ArrayBuffer>();
    for (auto& seen : out) {
      if (seen->StrictEquals(buffer)) {
        throwNamedError(isolate, "DataCloneError",
                        "structuredClone: the transfer list names an ArrayBuffer twice");
        return false;
      }
    }
    if (buffer->WasDetached()) {
      throwNamedError(isolate, "DataCloneError",
                      "structuredClone: an ArrayBuffer in the transfer list is detached");
      return false;
    }
    if (!buffer->IsDetachable()) {
      throwTypeError(isolate,
                     "structuredClone: an ArrayBuffer in the transfer list cannot be "
                     "detached (it belongs to a WebAssembly.Memory)");
      return false;
    }
    out.push_back(buffer);
  }
  return true;
}

}  // namespace

void WebBindings::structuredClone(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  if (info.Length() < 1) {
    throwTypeError(isolate, "structuredClone: 1 argument required, but only 0 present");
    return;
  }
  std::vector<v8::Local<v8::ArrayBuffer>> transfer;
  if (!transferBuffers(isolate, context, info[1], transfer)) return;
  CloneDelegate delegate(isolate, info[2]);
  v8::ValueSerializer serializer(isolate, &delegate);
  delegate.setSerializer(&serializer);
  serializer.WriteHeader();
  for (size_t i = 0; i < transfer.size(); ++i) {
    serializer.TransferArrayBuffer(static_cast<uint32_t>(i), transfer[i]);
  }
  if (serializer.WriteValue(context, info[0]).IsNothing()) return;  // exception pending
  std::pair<uint8_t*, size_t> buffer = serializer.Release();
  // Transferred: the copy gets each buffer's memory, the original is left detached.
  std::vector<v8::Local<v8::ArrayBuffer>> moved;
  moved.reserve(transfer.size());
  for (auto& original : transfer) {
    moved.push_back(v8::ArrayBuffer::New(isolate, original->GetBackingStore()));
    original->Detach();
  }
  v8::Local<v8::Value> copy;
  {
    RestoreDelegate restore(isolate, info[3]);
    v8::ValueDeserializer deserializer(isolate, buffer.first, buffer.second, &restore);
    restore.setDeserializer(&deserializer);
    for (size_t i = 0; i < moved.size(); ++i) {
      deserializer.TransferArrayBuffer(static_cast<uint32_t>(i), moved[i]);
    }
    if (deserializer.ReadHeader(context).FromMaybe(false)) {
      if (!deserializer.ReadValue(context).ToLocal(&copy) || !restore.finish(context)) {
        copy.Clear();
      }
    }
  }
  // The default delegate allocates with realloc.
  std::free(buffer.first);
  if (!copy.IsEmpty()) info.GetReturnValue().Set(copy);
}

void WebBindings::monotonicNow(const v8::FunctionCallbackInfo<v8::Value>& info) {
  auto now = std::chrono::steady_clock::now().time_since_epoch();
  info.GetReturnValue().Set(std::chrono::duration<double, std::milli>(now).count());
}

void WebBindings::wallClockNow(const v8::FunctionCallbackInfo<v8::Value>& info) {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  info.GetReturnValue().Set(std::chrono::duration<double, std::milli>(now).count());
}

}  // namespace isolated::worker
