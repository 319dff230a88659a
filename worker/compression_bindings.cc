// zlib streams for the runtime's CompressionStream and DecompressionStream.
#include "worker/compression_bindings.h"

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "worker/zlib_stream.h"

namespace isolated::worker {

namespace {

// What a handle's backing store points at. The tag guards against a handle of another kind.
struct ZlibHandle {
  static constexpr uint64_t kTag = 0x7a6c6962'68616e64;  // "zlibhand"
  uint64_t tag = kTag;
  std::unique_ptr<ZlibStream> stream;
};

void throwTypeError(v8::Isolate* isolate, const std::string& message) {
  v8::Local<v8::String> text;
  if (!v8::String::NewFromUtf8(isolate, message.c_str()).ToLocal(&text)) return;
  isolate->ThrowException(v8::Exception::TypeError(text));
}

ZlibHandle* handleOf(v8::Local<v8::Value> value) {
  if (!value->IsArrayBuffer()) return nullptr;
  auto store = value.As<v8::ArrayBuffer>()->GetBackingStore();
  auto* handle = static_cast<ZlibHandle*>(store->Data());
  if (handle == nullptr || store->ByteLength() != 0 || handle->tag != ZlibHandle::kTag) {
    return nullptr;
  }
  return handle;
}

}  // namespace

std::span<const NativeFunction> CompressionBindings::functions() {
  static constexpr NativeFunction table[] = {
      {"zlibCreate", &CompressionBindings::create},
      {"zlibWrite", &CompressionBindings::write},
      {"zlibClose", &CompressionBindings::close},
  };
  return table;
}

// zlibCreate(format, compress) -> handle
void CompressionBindings::create(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  v8::String::Utf8Value name(isolate, info[0]);
  auto format = parseZlibFormat(*name ? std::string_view(*name, name.length()) : "");
  if (!format) {
    throwTypeError(isolate, "Unsupported compression format: '" + std::string(*name ? *name : "") +
                                "' (expected gzip, deflate or deflate-raw)");
    return;
  }
  auto mode =
      info[1]->BooleanValue(isolate) ? ZlibStream::Mode::kCompress : ZlibStream::Mode::kDecompress;
  auto handle = std::make_unique<ZlibHandle>();
  handle->stream = ZlibStream::create(*format, mode);
  if (!handle->stream) {
    throwTypeError(isolate, "zlib could not allocate a stream");
    return;
  }
  auto store = v8::ArrayBuffer::NewBackingStore(
      handle.release(), 0, [](void* data, size_t, void*) { delete static_cast<ZlibHandle*>(data); },
      nullptr);
  info.GetReturnValue().Set(v8::ArrayBuffer::New(isolate, std::move(store)));
}

// zlibWrite(handle, bytes, finish) -> Uint8Array
void CompressionBindings::write(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  ZlibHandle* handle = handleOf(info[0]);
  if (handle == nullptr) {
    throwTypeError(isolate, "zlibWrite: not a compression stream handle");
    return;
  }
  std::span<const uint8_t> input;
  std::shared_ptr<v8::BackingStore> keep;
  if (info[1]->IsArrayBufferView()) {
    auto view = info[1].As<v8::ArrayBufferView>();
    keep = view->Buffer()->GetBackingStore();
    input = {static_cast<const uint8_t*>(keep->Data()) + view->ByteOffset(), view->ByteLength()};
  } else if (info[1]->IsArrayBuffer()) {
    keep = info[1].As<v8::ArrayBuffer>()->GetBackingStore();
    input = {static_cast<const uint8_t*>(keep->Data()), keep->ByteLength()};
  } else if (!info[1]->IsUndefined()) {
    throwTypeError(isolate, "The chunk must be an ArrayBuffer or an ArrayBufferView");
    return;
  }
  std::vector<uint8_t> out;
  if (auto error = handle->stream->write(input, info[2]->BooleanValue(isolate), out)) {
    throwTypeError(isolate, *error);
    return;
  }
  auto result = v8::ArrayBuffer::NewBackingStore(isolate, out.size());
  if (!out.empty()) std::memcpy(result->Data(), out.data(), out.size());
  auto buffer = v8::ArrayBuffer::New(isolate, std::move(result));
  info.GetReturnValue().Set(v8::Uint8Array::New(buffer, 0, out.size()));
}

// zlibClose(handle)
void CompressionBindings::close(const v8::FunctionCallbackInfo<v8::Value>& info) {
  if (ZlibHandle* handle = handleOf(info[0])) handle->stream->close();
}

}  // namespace isolated::worker
