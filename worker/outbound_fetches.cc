// OutboundFetches: fetch ids, promises and buffered body chunks of one context.
#include "worker/outbound_fetches.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "ipc/protocol.h"

namespace isolated::worker {

std::optional<uint64_t> fetchIdOf(ipc::Envelope::Reader message) {
  switch (message.which()) {
    case ipc::Envelope::FETCH_HEAD:
      return message.getFetchHead().getFetchId();
    case ipc::Envelope::FETCH_BODY:
      return message.getFetchBody().getFetchId();
    case ipc::Envelope::FETCH_FAILED:
      return message.getFetchFailed().getFetchId();
    case ipc::Envelope::FETCH_UPLOAD_CREDIT:
      return message.getFetchUploadCredit().getFetchId();
    default:
      return std::nullopt;
  }
}

namespace {

v8::Local<v8::String> text(v8::Isolate* isolate, kj::StringPtr value) {
  return v8::String::NewFromUtf8(isolate, value.cStr(), v8::NewStringType::kNormal,
                                 static_cast<int>(value.size()))
      .ToLocalChecked();
}

v8::Local<v8::Value> typeError(v8::Isolate* isolate, const std::string& message) {
  return v8::Exception::TypeError(v8::String::NewFromUtf8(isolate, message.data(),
                                                          v8::NewStringType::kNormal,
                                                          static_cast<int>(message.size()))
                                      .ToLocalChecked());
}

v8::Local<v8::Uint8Array> bytes(v8::Isolate* isolate, const std::string& data) {
  auto store = v8::ArrayBuffer::NewBackingStore(isolate, data.size());
  if (!data.empty()) std::memcpy(store->Data(), data.data(), data.size());
  auto buffer = v8::ArrayBuffer::New(isolate, std::move(store));
  return v8::Uint8Array::New(buffer, 0, data.size());
}

}  // namespace

std::pair<uint64_t, v8::Local<v8::Promise>> OutboundFetches::start(v8::Local<v8::Context> context,
                                                                   uint64_t requestId,
                                                                   capnp::MessageBuilder& message,
                                                                   ipc::FetchStart::Builder start) {
  v8::Isolate* isolate = context->GetIsolate();
  if (requestId != 0 && alive_ && !alive_(requestId)) {
    auto refused = v8::Promise::Resolver::New(context).ToLocalChecked();
    refused
        ->Reject(context, typeError(isolate,
                                    "fetch() after the request ended (its response was "
                                    "sent and its waitUntil() work is over)"))
        .Check();
    return {0, refused->GetPromise()};
  }
  if (requestId != 0) fetchedBy_.insert(requestId);
  uint64_t id = ids_.next();
  start.setFetchId(id);
  start.setApp(ids_.app());
  start.setParentId(requestId);
  auto resolver = v8::Promise::Resolver::New(context).ToLocalChecked();
  Fetch& fetch = fetches_[id];
  fetch.requestId = requestId;
  fetch.head.Reset(isolate, resolver);
  fetch.uploading = start.getBodyFollows();
  outbox_.send(message);
  return {id, resolver->GetPromise()};
}

v8::Local<v8::Promise> OutboundFetches::read(v8::Local<v8::Context> context, uint64_t id) {
  v8::Isolate* isolate = context->GetIsolate();
  auto resolver = v8::Promise::Resolver::New(context).ToLocalChecked();
  auto it = fetches_.find(id);
  if (it == fetches_.end()) {
    // Finished (its end or error was read) or aborted: nothing more to read.
    resolver->Resolve(context, v8::Null(isolate)).Check();
    return resolver->GetPromise();
  }
  Fetch& fetch = it->second;
  if (!fetch.read.IsEmpty()) {
    resolver->Reject(context, typeError(isolate, "a read of this body is already pending")).Check();
  } else if (!fetch.chunks.empty()) {
    deliver(context, id, fetch, resolver);
  } else if (fetch.ended) {
    settleWrite(context, fetch, false);
    fetches_.erase(it);
    resolver->Resolve(context, v8::Null(isolate)).Check();
  } else if (fetch.error) {
    resolver->Reject(context, typeError(isolate, *fetch.error)).Check();
    fetches_.erase(it);
  } else {
    fetch.read.Reset(isolate, resolver);
  }
  return resolver->GetPromise();
}

void OutboundFetches::account(v8::Isolate* isolate, Fetch& fetch, int64_t delta) {
  fetch.bufferedBytes = static_cast<size_t>(static_cast<int64_t>(fetch.bufferedBytes) + delta);
  isolate->AdjustAmountOfExternalAllocatedMemory(delta);
}

void OutboundFetches::deliver(v8::Local<v8::Context> context, uint64_t id, Fetch& fetch,
                              v8::Local<v8::Promise::Resolver> resolver) {
  std::string chunk = std::move(fetch.chunks.front());
  fetch.chunks.pop_front();
  account(context->GetIsolate(), fetch, -static_cast<int64_t>(chunk.size()));
  sendCredit(id, chunk.size());
  resolver->Resolve(context, bytes(context->GetIsolate(), chunk)).Check();
}

void OutboundFetches::abort(v8::Local<v8::Context> context, uint64_t id,
                            v8::Local<v8::Value> reason) {
  auto it = fetches_.find(id);
  if (it == fetches_.end()) return;
  v8::Isolate* isolate = context->GetIsolate();
  account(isolate, it->second, -static_cast<int64_t>(it->second.bufferedBytes));
  for (auto* pending : {&it->second.head, &it->second.read, &it->second.write}) {
    if (!pending->IsEmpty()) pending->Get(isolate)->Reject(context, reason).Check();
  }
  fetches_.erase(it);
  sendAbort(id);
}

std::optional<uint64_t> OutboundFetches::requestOf(uint64_t id) const {
  auto it = fetches_.find(id);
  if (it == fetches_.end()) return std::nullopt;
  return it->second.requestId;
}

void OutboundFetches::onHead(v8::Local<v8::Context> context, ipc::FetchHead::Reader head) {
  auto it = fetches_.find(head.getFetchId());
  if (it == fetches_.end() || it->second.head.IsEmpty()) return;
  v8::Isolate* isolate = context->GetIsolate();
  auto headers = head.getHeaders();
  v8::Local<v8::Array> flat = v8::Array::New(isolate, static_cast<int>(headers.size() * 2));
  uint32_t index = 0;
  for (auto header : headers) {
    if (flat->Set(context, index++, text(isolate, header.getName())).IsNothing() ||
        flat->Set(context, index++, text(isolate, header.getValue())).IsNothing()) {
      return;  // terminating
    }
  }
  v8::Local<v8::Value> parts[] = {
      v8::Integer::NewFromUnsigned(isolate, head.getStatus()),
      text(isolate, head.getStatusText()),
      flat,
      text(isolate, head.getUrl()),
      v8::Boolean::New(isolate, head.getRedirected()),
  };
  auto resolver = it->second.head.Get(isolate);
  it->second.head.Reset();
  resolver->Resolve(context, v8::Array::New(isolate, parts, 5)).Check();
}

void OutboundFetches::onBody(v8::Local<v8::Context> context, ipc::FetchBody::Reader body) {
  uint64_t id = body.getFetchId();
  auto it = fetches_.find(id);
  if (it == fetches_.end()) return;
  Fetch& fetch = it->second;
  auto data = body.getData();
  if (data.size() > 0) {
    fetch.chunks.emplace_back(reinterpret_cast<const char*>(data.begin()), data.size());
    account(context->GetIsolate(), fetch, static_cast<int64_t>(data.size()));
  }
  if (body.getEnd()) {
    fetch.ended = true;
    settleWrite(context, fetch, false);  // the origin answered in full: no more body wanted
  }
  if (fetch.read.IsEmpty()) return;
  v8::Isolate* isolate = context->GetIsolate();
  auto resolver = fetch.read.Get(isolate);
  if (!fetch.chunks.empty()) {
    fetch.read.Reset();
    deliver(context, id, fetch, resolver);
  } else if (fetch.ended) {
    fetches_.erase(it);
    resolver->Resolve(context, v8::Null(isolate)).Check();
  }
}

void OutboundFetches::onFailed(v8::Local<v8::Context> context, ipc::FetchFailed::Reader failed) {
  auto it = fetches_.find(failed.getFetchId());
  if (it == fetches_.end()) return;
  Fetch& fetch = it->second;
  v8::Isolate* isolate = context->GetIsolate();
  std::string message = failed.getMessage();
  if (!fetch.write.IsEmpty()) {
    auto resolver = fetch.write.Get(isolate);
    fetch.write.Reset();
    fetch.uploadPending.clear();
    resolver->Reject(context, typeError(isolate, message)).Check();
  }
  fetch.uploading = false;
  for (auto* pending : {&fetch.head, &fetch.read}) {
    if (pending->IsEmpty()) continue;
    auto resolver = pending->Get(isolate);
    fetches_.erase(it);
    resolver->Reject(context, typeError(isolate, message)).Check();
    return;
  }
  // Bytes already received are still read first; the error comes after them.
  fetch.error = std::move(message);
}

v8::Local<v8::Promise> OutboundFetches::write(v8::Local<v8::Context> context, uint64_t id,
                                              std::string data) {
  v8::Isolate* isolate = context->GetIsolate();
  auto resolver = v8::Promise::Resolver::New(context).ToLocalChecked();
  auto it = fetches_.find(id);
  if (it == fetches_.end() || it->second.ended) {
    resolver->Resolve(context, v8::False(isolate)).Check();
    return resolver->GetPromise();
  }
  Fetch& fetch = it->second;
  if (fetch.error) {
    resolver->Reject(context, typeError(isolate, *fetch.error)).Check();
  } else if (!fetch.uploading) {
    resolver->Reject(context, typeError(isolate, "this fetch has no streamed body")).Check();
  } else if (!fetch.write.IsEmpty()) {
    resolver->Reject(context, typeError(isolate, "a write of this body is already pending"))
        .Check();
  } else if (fetch.upload.fits(data.size())) {
    sendUpload(id, fetch, data, false);
    resolver->Resolve(context, v8::True(isolate)).Check();
  } else {
    fetch.uploadPending = std::move(data);
    fetch.write.Reset(isolate, resolver);
  }
  return resolver->GetPromise();
}

void OutboundFetches::end(uint64_t id) {
  auto it = fetches_.find(id);
  if (it == fetches_.end() || !it->second.uploading || !it->second.write.IsEmpty()) return;
  sendUpload(id, it->second, std::string(), true);
  it->second.uploading = false;
}

void OutboundFetches::onUploadCredit(v8::Local<v8::Context> context,
                                     ipc::FetchUploadCredit::Reader credit) {
  uint64_t id = credit.getFetchId();
  auto it = fetches_.find(id);
  if (it == fetches_.end()) return;
  Fetch& fetch = it->second;
  fetch.upload.credit(credit.getBytes());
  if (fetch.write.IsEmpty() || !fetch.upload.fits(fetch.uploadPending.size())) {
    return;
  }
  sendUpload(id, fetch, fetch.uploadPending, false);
  fetch.uploadPending.clear();
  settleWrite(context, fetch, true);
}

void OutboundFetches::sendUpload(uint64_t id, Fetch& fetch, const std::string& data, bool end) {
  capnp::MallocMessageBuilder message;
  auto upload = message.initRoot<ipc::Envelope>().initFetchUpload();
  upload.setFetchId(id);
  upload.setData(kj::arrayPtr(reinterpret_cast<const kj::byte*>(data.data()), data.size()));
  upload.setEnd(end);
  outbox_.send(message);
  fetch.upload.sent(data.size());
}

void OutboundFetches::settleWrite(v8::Local<v8::Context> context, Fetch& fetch, bool sent) {
  if (!sent) fetch.uploading = false;
  if (fetch.write.IsEmpty()) return;
  auto resolver = fetch.write.Get(context->GetIsolate());
  fetch.write.Reset();
  fetch.uploadPending.clear();
  resolver->Resolve(context, v8::Boolean::New(context->GetIsolate(), sent)).Check();
}

size_t OutboundFetches::dropRequest(v8::Isolate* isolate, uint64_t requestId) {
  fetchedBy_.erase(requestId);
  std::vector<uint64_t> ids;
  for (const auto& [id, fetch] : fetches_) {
    if (fetch.requestId == requestId) ids.push_back(id);
  }
  for (uint64_t id : ids) {
    auto it = fetches_.find(id);
    if (it->second.bufferedBytes != 0) {
      isolate->AdjustAmountOfExternalAllocatedMemory(
          -static_cast<int64_t>(it->second.bufferedBytes));
    }
    fetches_.erase(it);
    sendAbort(id);
  }
  return ids.size();
}

void OutboundFetches::clear(v8::Isolate* isolate) {
  std::vector<uint64_t> ids;
  ids.reserve(fetches_.size());
  int64_t buffered = 0;
  for (const auto& [id, fetch] : fetches_) {
    ids.push_back(id);
    buffered += static_cast<int64_t>(fetch.bufferedBytes);
  }
  if (buffered != 0) isolate->AdjustAmountOfExternalAllocatedMemory(-buffered);
  fetches_.clear();
  fetchedBy_.clear();
  for (uint64_t id : ids)
    sendAbort(id);
}

void OutboundFetches::sendCredit(uint64_t id, size_t bytes) {
  capnp::MallocMessageBuilder message;
  auto credit = message.initRoot<ipc::Envelope>().initFetchCredit();
  credit.setFetchId(id);
  credit.setBytes(static_cast<uint32_t>(bytes));
  outbox_.send(message);
}

void OutboundFetches::sendAbort(uint64_t id) {
  capnp::MallocMessageBuilder message;
  message.initRoot<ipc::Envelope>().initFetchAbort().setFetchId(id);
  outbox_.send(message);
}

}  // namespace isolated::worker
