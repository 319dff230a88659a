// BindingCalls: call ids and promises of one context's storage binding calls.
#include "worker/binding_calls.h"

#include <capnp/message.h>

#include <cstring>

namespace isolated::worker {

namespace {

v8::Local<v8::String> utf8(v8::Isolate* isolate, const char* data, size_t size) {
  return v8::String::NewFromUtf8(isolate, data, v8::NewStringType::kNormal, static_cast<int>(size))
      .ToLocalChecked();
}

}  // namespace

const char* storageKind(ipc::StorageBinding::Kind kind) {
  switch (kind) {
    case ipc::StorageBinding::Kind::KV:
      return "kv";
    case ipc::StorageBinding::Kind::DATABASE:
      return "database";
    case ipc::StorageBinding::Kind::STORAGE:
      return "storage";
  }
  return "";
}

v8::Local<v8::Promise> BindingCalls::call(v8::Local<v8::Context> context, uint64_t requestId,
                                          const std::string& binding, const std::string& op,
                                          const std::string& args, const std::string& value) {
  v8::Isolate* isolate = context->GetIsolate();
  uint64_t id = ids_.next();
  capnp::MallocMessageBuilder message;
  auto call = message.initRoot<ipc::Envelope>().initBindingCall();
  call.setCallId(id);
  call.setParentId(requestId);
  call.setApp(ids_.app());
  call.setBinding(binding);
  call.setOp(op);
  call.setArgs(args);
  if (!value.empty()) {
    call.setValue(kj::arrayPtr(reinterpret_cast<const kj::byte*>(value.data()), value.size()));
  }
  auto resolver = v8::Promise::Resolver::New(context).ToLocalChecked();
  Call& entry = calls_[id];
  entry.requestId = requestId;
  entry.resolver.Reset(isolate, resolver);
  outbox_.send(message);
  return resolver->GetPromise();
}

std::optional<uint64_t> BindingCalls::requestOf(uint64_t callId) const {
  auto it = calls_.find(callId);
  if (it == calls_.end()) return std::nullopt;
  return it->second.requestId;
}

void BindingCalls::onResult(v8::Local<v8::Context> context, ipc::BindingResult::Reader result) {
  auto it = calls_.find(result.getCallId());
  if (it == calls_.end()) return;
  v8::Isolate* isolate = context->GetIsolate();
  auto resolver = it->second.resolver.Get(isolate);
  calls_.erase(it);
  if (!result.getOk()) {
    auto error = result.getError();
    resolver->Reject(context, v8::Exception::Error(utf8(isolate, error.cStr(), error.size())))
        .Check();
    return;
  }
  auto payload = result.getPayload();
  v8::Local<v8::Value> value = v8::Null(isolate);
  if (result.hasValue()) {
    auto data = result.getValue();
    auto store = v8::ArrayBuffer::NewBackingStore(isolate, data.size());
    if (data.size() > 0) std::memcpy(store->Data(), data.begin(), data.size());
    value = v8::Uint8Array::New(v8::ArrayBuffer::New(isolate, std::move(store)), 0, data.size());
  }
  v8::Local<v8::Value> pair[] = {utf8(isolate, payload.cStr(), payload.size()), value};
  resolver->Resolve(context, v8::Array::New(isolate, pair, 2)).Check();
}

}  // namespace isolated::worker
