// The warm-up request: see runtime_warm_up.h.
#include "worker/runtime_warm_up.h"

#include "worker/js_scope.h"

namespace isolated::worker {

namespace {

// A request id no supervisor gives (they count up from 1), for the warm-up request.
constexpr double kWarmUpRequestId = 9007199254740991.0;  // Number.MAX_SAFE_INTEGER

// The synthetic request's headers, as a client's first request would send them.
v8::Local<v8::Array> syntheticHeaders(v8::Isolate* isolate, v8::Local<v8::Context> context,
                                      const char* host) {
  const char* const headers[] = {"host", host, "accept", "*/*", "user-agent", "isolated-warm-up"};
  v8::Local<v8::Array> flat = v8::Array::New(isolate, 6);
  for (uint32_t i = 0; i < 6; ++i) {
    if (flat->Set(context, i, v8::String::NewFromUtf8(isolate, headers[i]).ToLocalChecked())
            .IsNothing()) {
      break;
    }
  }
  return flat;
}

}  // namespace

void dispatchSyntheticRequest(v8::Isolate* isolate, ScriptContext& context, const char* url,
                              const char* host) {
  JsScope scope(isolate, context.global());
  v8::Local<v8::Context> v8Context = scope.context();
  v8::TryCatch tryCatch(isolate);
  v8::Local<v8::Value> args[] = {
      v8::Number::New(isolate, kWarmUpRequestId),
      v8::String::NewFromUtf8Literal(isolate, "GET"),
      v8::String::NewFromUtf8(isolate, url).ToLocalChecked(),
      syntheticHeaders(isolate, v8Context, host),
      v8::Null(isolate),
      v8::False(isolate),
  };
  // dispatch() never throws (every outcome becomes a host call); its answer comes after a
  // promise job, hence the checkpoint.
  if (!context.dispatchFunction()->Call(v8Context, v8::Undefined(isolate), 6, args).IsEmpty()) {
    context.runMicrotasks();
  }
}

bool warmUpContext(v8::Isolate* isolate, ScriptContext& context, WarmUpUrl url) {
  JsScope scope(isolate, context.global());
  v8::Local<v8::Context> v8Context = scope.context();
  v8::TryCatch tryCatch(isolate);
  v8::Local<v8::Value> args[] = {
      v8::Number::New(isolate, kWarmUpRequestId),
      v8::String::NewFromUtf8Literal(isolate, "http://warm-up.invalid/warm-up?x=1"),
      syntheticHeaders(isolate, v8Context, "warm-up.invalid"),
      v8::Boolean::New(isolate, url == WarmUpUrl::kParse),
  };
  // warmUp() never throws, like dispatch(); it is empty only when execution was terminated.
  if (context.warmUpFunction()->Call(v8Context, v8::Undefined(isolate), 4, args).IsEmpty()) {
    return false;
  }
  // The answer may come after a promise job, hence the checkpoint.
  context.runMicrotasks();
  return !tryCatch.HasTerminated();
}

}  // namespace isolated::worker
