// The warm-up request: see runtime_warm_up.h.
#include "worker/runtime_warm_up.h"

#include "worker/js_scope.h"

namespace isolated::worker {

namespace {

// A request id no supervisor gives (they count up from 1), for the warm-up request.
constexpr double kWarmUpRequestId = 9007199254740991.0;  // Number.MAX_SAFE_INTEGER

// Runs the runtime's request path once in a context (a spare's), so that the functions every
// request needs (headers, the Request and its URL, the dispatch, a Response and the answer) are
// compiled before an app's first request rather than during it. A `fetch` listener answers the
// request (the WarmUpHost drops the answer) and is removed again, so the context keeps nothing of
// it but compiled code (and the lazily made globals the request touched, which the app's first
// request would have made anyway).
// The listener parses the request's URL as nearly every handler does first
// (`new URL(request.url)`): the runtime loads whatwg-url on first use (worker/js/url.js), and
// loading it was 3.5 of the 4 ms of CPU an app's first request took after the old warm-up
// (docs/multi-tenancy.md). `searchParams` and `headers.get` are left out: they grew each isolate
// by about 65 KB (V8's off-heap string table doubling) for no measured gain.
constexpr const char* kWarmUpListener =
    "(() => {\n"
    "  const listener = (event) => {\n"
    "    const url = new URL(event.request.url);\n"
    "    const text = url.pathname;\n"
    "    event.respondWith(new Response(text, {\n"
    "      status: 200, headers: { 'content-type': 'text/plain;charset=UTF-8' } }));\n"
    "  };\n"
    "  addEventListener('fetch', listener);\n"
    "  return () => removeEventListener('fetch', listener);\n"
    "})()";

}  // namespace

void dispatchSyntheticRequest(v8::Isolate* isolate, ScriptContext& context, const char* url,
                              const char* host) {
  JsScope scope(isolate, context.global());
  v8::Local<v8::Context> v8Context = scope.context();
  v8::TryCatch tryCatch(isolate);
  const char* const headers[] = {"host", host, "accept", "*/*", "user-agent", "isolated-warm-up"};
  v8::Local<v8::Array> flat = v8::Array::New(isolate, 6);
  for (uint32_t i = 0; i < 6; ++i) {
    if (flat->Set(v8Context, i, v8::String::NewFromUtf8(isolate, headers[i]).ToLocalChecked())
            .IsNothing()) {
      break;
    }
  }
  v8::Local<v8::Value> args[] = {
      v8::Number::New(isolate, kWarmUpRequestId),
      v8::String::NewFromUtf8Literal(isolate, "GET"),
      v8::String::NewFromUtf8(isolate, url).ToLocalChecked(),
      flat,
      v8::Null(isolate),
      v8::False(isolate),
  };
  // dispatch() never throws (every outcome becomes a host call); its answer comes after a
  // promise job, hence the checkpoint.
  if (!context.dispatchFunction()->Call(v8Context, v8::Undefined(isolate), 6, args).IsEmpty()) {
    context.runMicrotasks();
  }
}

bool warmUpContext(v8::Isolate* isolate, ScriptContext& context) {
  JsScope scope(isolate, context.global());
  v8::Local<v8::Context> v8Context = scope.context();
  v8::TryCatch tryCatch(isolate);
  v8::Local<v8::Script> script;
  v8::Local<v8::Value> remove;
  if (!v8::Script::Compile(v8Context,
                           v8::String::NewFromUtf8(isolate, kWarmUpListener).ToLocalChecked())
           .ToLocal(&script) ||
      !script->Run(v8Context).ToLocal(&remove) || !remove->IsFunction()) {
    return false;
  }
  dispatchSyntheticRequest(isolate, context, "http://spare.invalid/warm-up?x=1", "spare.invalid");
  // The app's script must find no handler registered.
  return !remove.As<v8::Function>()->Call(v8Context, v8::Undefined(isolate), 0, nullptr).IsEmpty();
}

}  // namespace isolated::worker
