// Native functions for streamed bodies, and the RuntimeHost defaults for hosts without them.
#include "worker/body_bindings.h"

#include "worker/body_text.h"
#include "worker/runtime_host.h"

namespace isolated::worker {

namespace {

// Settling a promise yields Nothing only while execution is being terminated; the turn's end
// deals with that, so the outcome is not needed here.
void ignoreOutcome(v8::Maybe<bool>) {}

uint64_t idArg(const v8::FunctionCallbackInfo<v8::Value>& info) {
  return static_cast<uint64_t>(
      info[0]->IntegerValue(info.GetIsolate()->GetCurrentContext()).FromMaybe(0));
}

void rejectNoStream(v8::Local<v8::Promise::Resolver> done) {
  v8::Isolate* isolate = done->GetIsolate();
  ignoreOutcome(done->Reject(isolate->GetCurrentContext(),
                             v8::Exception::TypeError(v8::String::NewFromUtf8Literal(
                                 isolate, "no streamed body for this request"))));
}

// Makes the promise a function returns and hands its resolver to `use`.
template <typename Use>
void withPromise(const v8::FunctionCallbackInfo<v8::Value>& info, Use&& use) {
  v8::Local<v8::Promise::Resolver> done;
  if (!v8::Promise::Resolver::New(info.GetIsolate()->GetCurrentContext()).ToLocal(&done)) return;
  info.GetReturnValue().Set(done->GetPromise());
  use(done);
}

void startResponse(const v8::FunctionCallbackInfo<v8::Value>& info) {
  auto context = info.GetIsolate()->GetCurrentContext();
  auto status = static_cast<uint16_t>(info[1]->Uint32Value(context).FromMaybe(500));
  v8::Local<v8::String> headers =
      info[2]->IsString() ? info[2].As<v8::String>() : v8::String::Empty(info.GetIsolate());
  info.GetReturnValue().Set(hostOf(info).startResponse(idArg(info), status, headers));
}

void readBody(const v8::FunctionCallbackInfo<v8::Value>& info) {
  withPromise(info, [&](v8::Local<v8::Promise::Resolver> done) {
    hostOf(info).readBody(idArg(info), done);
  });
}

void readBodyAll(const v8::FunctionCallbackInfo<v8::Value>& info) {
  bool asText = info[1]->BooleanValue(info.GetIsolate());
  withPromise(info, [&](v8::Local<v8::Promise::Resolver> done) {
    hostOf(info).readBodyAll(idArg(info), asText, done);
  });
}

void utf8TextOf(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  if (!info[0]->IsArrayBufferView()) {
    isolate->ThrowException(v8::Exception::TypeError(
        v8::String::NewFromUtf8Literal(isolate, "utf8Text: the argument must be a view")));
    return;
  }
  auto view = info[0].As<v8::ArrayBufferView>();
  auto store = view->Buffer()->GetBackingStore();
  const auto* data = static_cast<const uint8_t*>(store->Data());
  std::span<const uint8_t> bytes(data == nullptr ? nullptr : data + view->ByteOffset(),
                                 view->ByteLength());
  v8::Local<v8::String> text;
  if (utf8Text(isolate, bytes).ToLocal(&text)) info.GetReturnValue().Set(text);
}

void writeBody(const v8::FunctionCallbackInfo<v8::Value>& info) {
  withPromise(info, [&](v8::Local<v8::Promise::Resolver> done) {
    hostOf(info).writeBody(idArg(info), info[1], done);
  });
}

void endBody(const v8::FunctionCallbackInfo<v8::Value>& info) {
  hostOf(info).endBody(idArg(info), info[1]->BooleanValue(info.GetIsolate()));
}

constexpr NativeFunction kBodyFunctions[] = {
    {"startResponse", &startResponse}, {"readBody", &readBody},   {"readBodyAll", &readBodyAll},
    {"utf8Text", &utf8TextOf},         {"writeBody", &writeBody}, {"endBody", &endBody},
};

}  // namespace

std::span<const NativeFunction> bodyFunctions() {
  return kBodyFunctions;
}

void RuntimeHost::readBody(uint64_t, v8::Local<v8::Promise::Resolver> done) {
  rejectNoStream(done);
}

void RuntimeHost::readBodyAll(uint64_t, bool, v8::Local<v8::Promise::Resolver> done) {
  rejectNoStream(done);
}

void RuntimeHost::writeBody(uint64_t, v8::Local<v8::Value>, v8::Local<v8::Promise::Resolver> done) {
  rejectNoStream(done);
}

}  // namespace isolated::worker
