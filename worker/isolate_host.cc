// IsolateHost: isolate and context lifecycle, request dispatch into JavaScript, and the
// Response/Log messages that come back out.
#include "worker/isolate_host.h"

#include <capnp/message.h>

#include <algorithm>
#include <cstring>
#include <string_view>

#include "worker/js_scope.h"
#include "worker/native_bindings.h"

namespace isolated::worker {

// The text of worker/runtime.js, embedded at build time (cmake/EmbedFile.cmake).
extern const std::string_view kRuntimeJs;

namespace {

v8::Local<v8::String> oneByteString(v8::Isolate* isolate, kj::StringPtr text) {
  return v8::String::NewFromOneByte(isolate, reinterpret_cast<const uint8_t*>(text.begin()),
                                    v8::NewStringType::kNormal, static_cast<int>(text.size()))
      .ToLocalChecked();
}

// Writes a ByteString (header name or value) as Latin-1, the way fetch defines header bytes.
std::string latin1(v8::Isolate* isolate, v8::Local<v8::Value> value) {
  v8::Local<v8::String> s;
  if (!value->ToString(isolate->GetCurrentContext()).ToLocal(&s)) return {};
  std::string out(static_cast<size_t>(s->Length()), '\0');
  s->WriteOneByte(isolate, reinterpret_cast<uint8_t*>(out.data()), 0, s->Length(),
                  v8::String::NO_NULL_TERMINATION);
  return out;
}

constexpr std::string_view kRuntimeErrorBodies[][2] = {
    {"script-threw", "Internal Server Error: the script threw an exception\n"},
    {"bad-response", "Internal Server Error: the script did not return a Response\n"},
    {"no-response", "Internal Server Error: no fetch handler answered the request\n"},
};

}  // namespace

IsolateHost::IsolateHost(event_base* base, Outbox& outbox, HostOptions options)
    : outbox_(outbox),
      options_(std::move(options)),
      timers_(base, [this](uint64_t id) { fireTimer(id); }),
      allocator_(v8::ArrayBuffer::Allocator::NewDefaultAllocator()) {
  v8::Isolate::CreateParams params;
  params.array_buffer_allocator = allocator_.get();
  params.constraints.ConfigureDefaultsFromHeapSize(0, options_.heapLimitBytes);
  isolate_ = v8::Isolate::New(params);
  isolate_->SetMicrotasksPolicy(v8::MicrotasksPolicy::kExplicit);
}

IsolateHost::~IsolateHost() {
  dispatchFn_.Reset();
  fireTimerFn_.Reset();
  context_.Reset();
  isolate_->Dispose();
}

std::optional<ScriptError> IsolateHost::load() {
  v8::Isolate::Scope isolateScope(isolate_);
  v8::HandleScope handleScope(isolate_);
  v8::Local<v8::Context> context = v8::Context::New(isolate_);
  context_.Reset(isolate_, context);
  v8::Context::Scope contextScope(context);
  v8::TryCatch tryCatch(isolate_);

  // The runtime is a function expression; calling it installs the globals and returns the
  // entry points the host keeps.
  v8::ScriptOrigin origin(isolate_, v8::String::NewFromUtf8Literal(isolate_, "isolated:runtime"));
  v8::Local<v8::String> source =
      v8::String::NewFromUtf8(isolate_, kRuntimeJs.data(), v8::NewStringType::kNormal,
                              static_cast<int>(kRuntimeJs.size()))
          .ToLocalChecked();
  v8::Local<v8::Script> script;
  v8::Local<v8::Value> factory;
  v8::Local<v8::Value> entryPoints;
  v8::Local<v8::Value> native = NativeBindings::create(isolate_, context, *this);
  if (!v8::Script::Compile(context, source, &origin).ToLocal(&script) ||
      !script->Run(context).ToLocal(&factory) || !factory->IsFunction() ||
      !factory.As<v8::Function>()
           ->Call(context, context->Global(), 1, &native)
           .ToLocal(&entryPoints) ||
      !entryPoints->IsObject()) {
    return describeException(isolate_, context, tryCatch, "isolated:runtime");
  }
  auto entries = entryPoints.As<v8::Object>();
  auto get = [&](const char* name) {
    return entries->Get(context, v8::String::NewFromUtf8(isolate_, name).ToLocalChecked())
        .ToLocalChecked()
        .As<v8::Function>();
  };
  dispatchFn_.Reset(isolate_, get("dispatch"));
  fireTimerFn_.Reset(isolate_, get("fireTimer"));

  LoadResult loaded = loadScript(isolate_, context, options_.scriptPath);
  if (auto* error = std::get_if<ScriptError>(&loaded)) return *error;
  if (auto* module = std::get_if<LoadedModule>(&loaded)) {
    v8::Local<v8::Value> exported = module->defaultExport;
    if (get("setModuleHandler")->Call(context, context->Global(), 1, &exported).IsEmpty()) {
      return describeException(isolate_, context, tryCatch, options_.scriptPath);
    }
  } else {
    v8::Local<v8::Value> has;
    if (!get("hasFetchListener")->Call(context, context->Global(), 0, nullptr).ToLocal(&has) ||
        !has->IsTrue()) {
      return ScriptError{options_.scriptPath, 0,
                         "the script has no fetch handler: use `export default { fetch }` or "
                         "addEventListener('fetch', ...)"};
    }
  }
  runMicrotasks();
  return std::nullopt;
}

void IsolateHost::dispatch(ipc::RequestStart::Reader request) {
  uint64_t id = request.getId();
  inFlight_.insert(id);
  {
    JsScope scope(isolate_, context_);
    v8::Local<v8::Context> context = scope.context();
    auto headers = request.getHeaders();
    v8::Local<v8::Array> flat = v8::Array::New(isolate_, static_cast<int>(headers.size() * 2));
    uint32_t index = 0;
    for (auto header : headers) {
      flat->Set(context, index++, oneByteString(isolate_, header.getName())).Check();
      flat->Set(context, index++, oneByteString(isolate_, header.getValue())).Check();
    }
    v8::Local<v8::Value> body = v8::Null(isolate_);
    auto bytes = request.getBody();
    if (bytes.size() > 0) {
      auto store = v8::ArrayBuffer::NewBackingStore(isolate_, bytes.size());
      memcpy(store->Data(), bytes.begin(), bytes.size());
      body = v8::ArrayBuffer::New(isolate_, std::move(store));
    }
    v8::Local<v8::Value> args[] = {
        v8::Number::New(isolate_, static_cast<double>(id)),
        oneByteString(isolate_, request.getMethod()),
        oneByteString(isolate_, request.getUrl()),
        flat,
        body,
    };
    // The request id travels with every promise continuation the handler creates, so console
    // lines written after an await still name their request.
    context->SetContinuationPreservedEmbedderData(args[0]);
    v8::TryCatch tryCatch(isolate_);
    auto result = dispatchFn_.Get(isolate_)->Call(context, v8::Undefined(isolate_), 5, args);
    context->SetContinuationPreservedEmbedderData(v8::Undefined(isolate_));
    if (result.IsEmpty() && inFlight_.contains(id)) {
      ScriptError error = describeException(isolate_, context, tryCatch, options_.scriptPath);
      sendRuntimeError(id, "script-threw", error.message);
    }
  }
  runMicrotasks();
}

void IsolateHost::fireTimer(uint64_t id) {
  {
    JsScope scope(isolate_, context_);
    v8::Local<v8::Context> context = scope.context();
    v8::TryCatch tryCatch(isolate_);
    v8::Local<v8::Value> arg = v8::Number::New(isolate_, static_cast<double>(id));
    if (fireTimerFn_.Get(isolate_)->Call(context, v8::Undefined(isolate_), 1, &arg).IsEmpty()) {
      ScriptError error = describeException(isolate_, context, tryCatch, options_.scriptPath);
      sendLog(3, "Uncaught exception in timer callback: " + error.message, 0);
    }
  }
  runMicrotasks();
}

void IsolateHost::runMicrotasks() {
  // Promise reactions call back into native code that creates handles: they need a scope.
  JsScope scope(isolate_, context_);
  isolate_->PerformMicrotaskCheckpoint();
}

void IsolateHost::sendResponse(uint64_t id, uint16_t status, v8::Local<v8::Array> flatHeaders,
                               v8::Local<v8::Value> body) {
  if (inFlight_.erase(id) == 0) return;
  capnp::MallocMessageBuilder message;
  auto response = message.initRoot<ipc::Envelope>().initResponse();
  response.setId(id);
  response.setStatus(status);
  v8::Local<v8::Context> context = isolate_->GetCurrentContext();
  uint32_t count = flatHeaders->Length() / 2;
  auto headers = response.initHeaders(count);
  for (uint32_t i = 0; i < count; ++i) {
    std::string name = latin1(isolate_, flatHeaders->Get(context, 2 * i).ToLocalChecked());
    std::string value = latin1(isolate_, flatHeaders->Get(context, 2 * i + 1).ToLocalChecked());
    headers[i].setName(name);
    headers[i].setValue(value);
  }
  if (body->IsString()) {
    auto text = body.As<v8::String>();
    int length = text->Utf8Length(isolate_);
    auto data = response.initBody(static_cast<unsigned>(length));
    text->WriteUtf8(isolate_, reinterpret_cast<char*>(data.begin()), length, nullptr,
                    v8::String::NO_NULL_TERMINATION | v8::String::REPLACE_INVALID_UTF8);
  } else if (body->IsArrayBuffer()) {
    auto store = body.As<v8::ArrayBuffer>()->GetBackingStore();
    response.setBody(
        kj::arrayPtr(static_cast<const kj::byte*>(store->Data()), store->ByteLength()));
  }
  outbox_.send(message);
}

void IsolateHost::sendRuntimeError(uint64_t id, const std::string& kind,
                                   const std::string& detail) {
  if (inFlight_.erase(id) == 0) return;
  sendLog(3, detail, id);
  std::string_view body = "Internal Server Error\n";
  for (const auto& entry : kRuntimeErrorBodies) {
    if (entry[0] == kind) body = entry[1];
  }
  capnp::MallocMessageBuilder message;
  auto response = message.initRoot<ipc::Envelope>().initResponse();
  response.setId(id);
  response.setStatus(500);
  auto headers = response.initHeaders(1);
  headers[0].setName("content-type");
  headers[0].setValue("text/plain; charset=utf-8");
  response.setBody(kj::arrayPtr(reinterpret_cast<const kj::byte*>(body.data()), body.size()));
  response.setRuntimeError(kind);
  outbox_.send(message);
}

void IsolateHost::sendLog(int level, const std::string& text, uint64_t requestId) {
  if (outbox_.pendingBytes() > options_.logBacklogBytes) {
    ++droppedLogLines_;
    return;
  }
  capnp::MallocMessageBuilder message;
  auto log = message.initRoot<ipc::Envelope>().initLog();
  static constexpr ipc::Log::Level kLevels[] = {ipc::Log::Level::DEBUG, ipc::Log::Level::INFO,
                                                ipc::Log::Level::WARN, ipc::Log::Level::ERROR};
  log.setLevel(kLevels[std::clamp(level, 0, 3)]);
  log.setMessage(text);
  log.setRequestId(requestId);
  outbox_.send(message);
}

HeapStats IsolateHost::heapStats() {
  v8::HeapStatistics stats;
  isolate_->GetHeapStatistics(&stats);
  return HeapStats{stats.used_heap_size(), stats.total_heap_size(), stats.heap_size_limit(),
                   stats.external_memory()};
}

}  // namespace isolated::worker
