// V8 glue for CompressionStream and DecompressionStream: see compression_bindings.h.
#include "worker/compression_bindings.h"

#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "worker/v8_values.h"
#include "worker/zlib_stream.h"

namespace isolated::worker {

namespace {

using Info = v8::FunctionCallbackInfo<v8::Value>;

// What a handle's backing store points to. The handle (a zero-length ArrayBuffer) owns it: V8
// runs the deleter when the handle is collected or its isolate is disposed, possibly on a
// background thread (the array buffer sweeper), when no JavaScript can reach the handle any
// more, so nothing else touches the record then. free(), and a push that ends or fails, release
// the zlib state earlier on the isolate's thread; that is the usual path.
struct StreamRecord {
  static constexpr uint64_t kTag = 0x7a6c69622d726563;  // "zlib-rec": a handle of ours
  uint64_t tag = kTag;
  std::unique_ptr<ZlibStream> stream;

  void release() { stream.reset(); }
};

void deleteRecord(void* data, size_t, void*) {
  delete static_cast<StreamRecord*>(data);
}

// Handles never reach user code (compression.js keeps them in closures), so a value here is
// one of ours; the checks guard against a runtime bug, not against forgery.
StreamRecord* recordOf(const Info& info) {
  if (info[0]->IsArrayBuffer()) {
    auto store = info[0].As<v8::ArrayBuffer>()->GetBackingStore();
    auto* record = static_cast<StreamRecord*>(store->Data());
    if (store->ByteLength() == 0 && record != nullptr && record->tag == StreamRecord::kTag) {
      return record;
    }
  }
  throwTypeError(info.GetIsolate(), "not a compression stream handle");
  return nullptr;
}

// create(format, compress) -> handle
void createCallback(const Info& info) {
  v8::Isolate* isolate = info.GetIsolate();
  v8::String::Utf8Value name(isolate, info[0]);
  std::optional<ZlibFormat> format =
      *name ? parseZlibFormat(std::string_view(*name, name.length())) : std::nullopt;
  if (!format) {
    throwTypeError(isolate, "unsupported compression format");
    return;
  }
  ZlibDirection direction =
      info[1]->BooleanValue(isolate) ? ZlibDirection::kCompress : ZlibDirection::kDecompress;
  std::unique_ptr<ZlibStream> stream = ZlibStream::create(*format, direction);
  if (!stream) {
    isolate->ThrowException(
        v8::Exception::RangeError(v8String(isolate, "out of memory for a compression stream")));
    return;
  }
  auto record = std::make_unique<StreamRecord>();
  record->stream = std::move(stream);
  auto store = v8::ArrayBuffer::NewBackingStore(record.release(), 0, &deleteRecord, nullptr);
  v8::Local<v8::ArrayBuffer> handle = v8::ArrayBuffer::New(isolate, std::move(store));
  info.GetReturnValue().Set(handle);
}

// push(handle, chunk, offset, finish) -> [output | undefined, nextOffset, more]
void pushCallback(const Info& info) {
  v8::Isolate* isolate = info.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  StreamRecord* record = recordOf(info);
  if (record == nullptr) return;
  if (!record->stream) {
    throwTypeError(isolate, "the compression stream is closed");
    return;
  }

  // The chunk's bytes, read in place: no JavaScript runs during this call.
  std::shared_ptr<v8::BackingStore> store;
  const uint8_t* data = nullptr;
  size_t length = 0;
  if (info[1]->IsArrayBuffer()) {
    store = info[1].As<v8::ArrayBuffer>()->GetBackingStore();
    data = static_cast<const uint8_t*>(store->Data());
    length = store->ByteLength();
  } else if (info[1]->IsArrayBufferView()) {
    auto view = info[1].As<v8::ArrayBufferView>();
    store = view->Buffer()->GetBackingStore();
    if (store->IsShared()) {
      record->release();
      throwTypeError(isolate, "a chunk must not be a view on a SharedArrayBuffer");
      return;
    }
    data = static_cast<const uint8_t*>(store->Data()) + view->ByteOffset();
    length = view->ByteLength();
  } else {
    record->release();
    throwTypeError(isolate, "a chunk must be an ArrayBuffer or an ArrayBufferView");
    return;
  }
  double offsetArg = info[2]->NumberValue(context).FromMaybe(0);
  // A buffer detached or a view shrunk since the previous step leaves nothing to read.
  size_t offset = offsetArg > 0 ? static_cast<size_t>(offsetArg) : 0;
  if (offset > length) offset = length;
  bool finish = info[3]->BooleanValue(isolate);

  std::unique_ptr<v8::BackingStore> output =
      v8::ArrayBuffer::NewBackingStore(isolate, kMaxOutputChunk);
  ZlibStep step =
      record->stream->step({data == nullptr ? nullptr : data + offset, length - offset},
                           {static_cast<uint8_t*>(output->Data()), kMaxOutputChunk}, finish);
  if (!step.error.empty()) {
    record->release();
    throwTypeError(isolate, step.error);
    return;
  }
  if (step.more == false && finish) record->release();

  v8::Local<v8::Value> chunk = v8::Undefined(isolate);
  if (step.produced == kMaxOutputChunk) {
    auto buffer = v8::ArrayBuffer::New(isolate, std::move(output));
    chunk = v8::Uint8Array::New(buffer, 0, step.produced);
  } else if (step.produced > 0) {
    // A short piece gets a buffer of its own size rather than pinning the whole 64 KiB.
    auto buffer = v8::ArrayBuffer::New(isolate, step.produced);
    std::memcpy(buffer->GetBackingStore()->Data(), output->Data(), step.produced);
    chunk = v8::Uint8Array::New(buffer, 0, step.produced);
  }
  v8::Local<v8::Value> result[] = {
      chunk,
      v8::Number::New(isolate, static_cast<double>(offset + step.consumed)),
      v8::Boolean::New(isolate, step.more),
  };
  info.GetReturnValue().Set(v8::Array::New(isolate, result, 3));
}

// free(handle): idempotent.
void freeCallback(const Info& info) {
  StreamRecord* record = recordOf(info);
  if (record != nullptr) record->release();
}

constexpr NativeFunction kFunctions[] = {
    {"create", &createCallback},
    {"push", &pushCallback},
    {"free", &freeCallback},
};

}  // namespace

std::span<const NativeFunction> compressionFunctions() {
  return kFunctions;
}

void installCompression(v8::Isolate* isolate, v8::Local<v8::Context> context,
                        v8::Local<v8::Object> native) {
  installNamespace(isolate, context, native, "compression", compressionFunctions());
}

}  // namespace isolated::worker
