// The TypeScript type stripper's isolate: created on first use, the bundle evaluated once, one
// call per file.
#include "worker/type_stripper.h"

#include <string_view>

#include "worker/owned_isolate.h"

namespace isolated::worker {

// The stripper bundle built from worker/js/typescript/ (cmake/RuntimeBundle.cmake).
extern const std::string_view kStripTypesJs;

namespace {

// Sucrase needs a few MB for the largest scripts; the cap only keeps a pathological file from
// taking the worker's memory.
constexpr size_t kHeapLimitBytes = 256u << 20;

std::string toStdString(v8::Isolate* isolate, v8::Local<v8::Value> value) {
  v8::String::Utf8Value utf8(isolate, value);
  return *utf8 ? std::string(*utf8, utf8.length()) : std::string();
}

std::string exceptionText(v8::Isolate* isolate, const v8::TryCatch& tryCatch) {
  if (tryCatch.HasTerminated()) return "the TypeScript transform ran out of memory";
  return tryCatch.HasCaught() ? toStdString(isolate, tryCatch.Exception()) : "unknown error";
}

}  // namespace

bool isTypeScriptPath(const std::string& path) {
  return path.ends_with(".ts") || path.ends_with(".mts");
}

TypeStripper::TypeStripper() = default;

TypeStripper::~TypeStripper() {
  strip_.Reset();
  context_.Reset();
  isolate_.reset();
}

bool TypeStripper::start(std::string& error) {
  allocator_.reset(v8::ArrayBuffer::Allocator::NewDefaultAllocator());
  isolate_ = std::make_unique<OwnedIsolate>(allocator_.get(), kHeapLimitBytes, nullptr);
  v8::Isolate* isolate = isolate_->get();
  v8::Isolate::Scope isolateScope(isolate);
  v8::HandleScope handleScope(isolate);
  v8::Local<v8::Context> context = v8::Context::New(isolate);
  v8::Context::Scope contextScope(context);
  v8::TryCatch tryCatch(isolate);
  v8::ScriptOrigin origin(isolate, v8::String::NewFromUtf8Literal(isolate, "isolated:typescript"));
  v8::Local<v8::String> source =
      v8::String::NewFromUtf8(isolate, kStripTypesJs.data(), v8::NewStringType::kNormal,
                              static_cast<int>(kStripTypesJs.size()))
          .ToLocalChecked();
  v8::Local<v8::Script> script;
  v8::Local<v8::Value> exports;
  v8::Local<v8::Value> strip;
  if (!v8::Script::Compile(context, source, &origin).ToLocal(&script) ||
      script->Run(context).IsEmpty() ||
      !context->Global()
           ->Get(context, v8::String::NewFromUtf8Literal(isolate, "__isolatedStripTypes"))
           .ToLocal(&exports) ||
      !exports->IsObject() ||
      !exports.As<v8::Object>()
           ->Get(context, v8::String::NewFromUtf8Literal(isolate, "stripTypes"))
           .ToLocal(&strip) ||
      !strip->IsFunction()) {
    error = "cannot start the TypeScript transform: " + exceptionText(isolate, tryCatch);
    return false;
  }
  context_.Reset(isolate, context);
  strip_.Reset(isolate, strip.As<v8::Function>());
  return true;
}

std::optional<std::string> TypeStripper::strip(const std::string& path, const std::string& source,
                                               uint32_t& errorLine, std::string& error) {
  errorLine = 0;
  if (strip_.IsEmpty() && !start(error)) return std::nullopt;
  v8::Isolate* isolate = isolate_->get();
  v8::Isolate::Scope isolateScope(isolate);
  v8::HandleScope handleScope(isolate);
  v8::Local<v8::Context> context = context_.Get(isolate);
  v8::Context::Scope contextScope(context);
  v8::TryCatch tryCatch(isolate);
  v8::Local<v8::String> text;
  v8::Local<v8::String> name;
  if (!v8::String::NewFromUtf8(isolate, source.data(), v8::NewStringType::kNormal,
                               static_cast<int>(source.size()))
           .ToLocal(&text) ||
      !v8::String::NewFromUtf8(isolate, path.data(), v8::NewStringType::kNormal,
                               static_cast<int>(path.size()))
           .ToLocal(&name)) {
    error = "the file is too large";
    return std::nullopt;
  }
  v8::Local<v8::Value> args[] = {text, name};
  v8::Local<v8::Value> result;
  if (!strip_.Get(isolate)->Call(context, context->Global(), 2, args).ToLocal(&result)) {
    error = exceptionText(isolate, tryCatch);
    if (tryCatch.HasTerminated()) isolate->CancelTerminateExecution();
    return std::nullopt;
  }
  if (result->IsString()) return toStdString(isolate, result);
  // {line, message}: the file is not TypeScript the transform accepts.
  auto failure = result.As<v8::Object>();
  v8::Local<v8::Value> line;
  v8::Local<v8::Value> message;
  if (!result->IsObject() ||
      !failure->Get(context, v8::String::NewFromUtf8Literal(isolate, "line")).ToLocal(&line) ||
      !failure->Get(context, v8::String::NewFromUtf8Literal(isolate, "message"))
           .ToLocal(&message)) {
    error = "the TypeScript transform returned no result";
    return std::nullopt;
  }
  if (line->IsUint32()) errorLine = line.As<v8::Uint32>()->Value();
  error = toStdString(isolate, message);
  return std::nullopt;
}

}  // namespace isolated::worker
