// BodyStreams: request-body queues and response-body credit of the worker.
#include "worker/body_streams.h"

#include <capnp/message.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "ipc/messages.capnp.h"
#include "ipc/protocol.h"

namespace isolated::worker {

namespace {

// The largest size hint believed: --max-body-size's ceiling.
constexpr size_t kMaxHintBytes = size_t{4095} << 20;

// Settling a promise yields Nothing only while execution is being terminated; the turn's end
// deals with that, so the outcome is not needed here.
void ignoreOutcome(v8::Maybe<bool>) {}

void rejectWithTypeError(v8::Local<v8::Context> context, v8::Local<v8::Promise::Resolver> done,
                         const char* message) {
  v8::Isolate* isolate = context->GetIsolate();
  // Nothing when execution is being terminated; the turn's end handles that.
  ignoreOutcome(done->Reject(
      context,
      v8::Exception::TypeError(v8::String::NewFromUtf8(isolate, message).ToLocalChecked())));
}

}  // namespace

void BodyStreams::openRequestBody(uint64_t id, size_t sizeHint) {
  Stream& stream = streams_[id];
  stream.requestBody = true;
  stream.sizeHint = sizeHint;
}

bool BodyStreams::onRequestChunk(uint64_t id, kj::ArrayPtr<const kj::byte> data, bool end) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return true;
  Stream& stream = it->second;
  if (!stream.requestBody || stream.requestEnded || !stream.requestWindow.receive(data.size())) {
    return false;
  }
  if (data.size() > 0) {
    if (stream.collecting) {
      // Taken for the whole body: the supervisor may send as much again at once.
      if (stream.collectText) {
        stream.text.append(data.begin(), data.size());
      } else {
        stream.collected.append(data.begin(), data.size());
      }
      stream.requestWindow.passedOn(data.size());
      sendCredit(id, stream.requestWindow.grant());
    } else {
      stream.chunks.emplace_back(data.begin(), data.end());
    }
  }
  stream.requestEnded = end;
  return true;
}

bool BodyStreams::onResponseCredit(uint64_t id, uint32_t bytes) {
  auto it = streams_.find(id);
  if (it == streams_.end() || !it->second.responding) return false;
  Stream& stream = it->second;
  // Credit beyond one window is ignored (ipc/protocol.h rule 14).
  stream.responseWindow.credit(bytes);
  return flush(id, stream);
}

void BodyStreams::read(v8::Local<v8::Context> context, uint64_t id,
                       v8::Local<v8::Promise::Resolver> done) {
  auto it = streams_.find(id);
  if (it == streams_.end() || !it->second.requestBody) {
    return rejectWithTypeError(context, done,
                               "the request body is no longer available (request finished)");
  }
  Stream& stream = it->second;
  if (!stream.reader.IsEmpty() || stream.collecting) {
    return rejectWithTypeError(context, done, "a read of the request body is already pending");
  }
  if (!stream.chunks.empty() || stream.requestEnded) {
    return resolveRead(context, id, stream, done);
  }
  stream.reader.Reset(context->GetIsolate(), done);
}

void BodyStreams::readAll(v8::Local<v8::Context> context, uint64_t id, bool asText,
                          v8::Local<v8::Promise::Resolver> done) {
  auto it = streams_.find(id);
  if (it == streams_.end() || !it->second.requestBody) {
    return rejectWithTypeError(context, done,
                               "the request body is no longer available (request finished)");
  }
  Stream& stream = it->second;
  if (!stream.reader.IsEmpty() || stream.collecting) {
    return rejectWithTypeError(context, done, "a read of the request body is already pending");
  }
  stream.collecting = true;
  stream.collectText = asText;
  // One allocation of the final size when it is known (a hint beyond the largest body a
  // request may have is not believed: the buffer then grows as the bytes come).
  if (stream.sizeHint > 0 && stream.sizeHint <= kMaxHintBytes) {
    if (asText) {
      stream.text.reserve(stream.sizeHint);
    } else {
      stream.collected.reserve(stream.sizeHint);
    }
  }
  // What was queued for chunk-by-chunk reads is collected too, and credited now.
  for (const auto& chunk : stream.chunks) {
    if (asText) {
      stream.text.append(chunk.data(), chunk.size());
    } else {
      stream.collected.append(chunk.data(), chunk.size());
    }
    stream.requestWindow.passedOn(chunk.size());
  }
  stream.chunks.clear();
  if (uint64_t grant = stream.requestWindow.grant(); grant > 0) sendCredit(id, grant);
  if (stream.requestEnded) return resolveAll(context, stream, done);
  stream.reader.Reset(context->GetIsolate(), done);
}

void BodyStreams::resolveAll(v8::Local<v8::Context> context, Stream& stream,
                             v8::Local<v8::Promise::Resolver> done) {
  v8::Isolate* isolate = context->GetIsolate();
  v8::Local<v8::Value> value;
  if (!stream.collectText) {
    value = adoptAsUint8Array(isolate, std::exchange(stream.collected, ByteBuffer()));
  } else {
    v8::TryCatch tryCatch(isolate);
    v8::Local<v8::String> text;
    if (!stream.text.finish(isolate).ToLocal(&text)) {
      if (tryCatch.HasCaught() && !tryCatch.HasTerminated()) {
        ignoreOutcome(done->Reject(context, tryCatch.Exception()));
      } else {
        tryCatch.ReThrow();
      }
      return;
    }
    value = text;
  }
  ignoreOutcome(done->Resolve(context, value));
}

void BodyStreams::sendCredit(uint64_t id, size_t bytes) {
  capnp::MallocMessageBuilder message;
  auto credit = message.initRoot<ipc::Envelope>().initBodyCredit();
  credit.setId(id);
  credit.setBytes(static_cast<uint32_t>(bytes));
  outbox_.send(message);
}

void BodyStreams::resolveRead(v8::Local<v8::Context> context, uint64_t id, Stream& stream,
                              v8::Local<v8::Promise::Resolver> done) {
  v8::Isolate* isolate = context->GetIsolate();
  if (stream.chunks.empty()) {
    ignoreOutcome(done->Resolve(context, v8::Null(isolate)));
    return;
  }
  std::vector<uint8_t> chunk = std::move(stream.chunks.front());
  stream.chunks.pop_front();
  size_t size = chunk.size();
  auto store = v8::ArrayBuffer::NewBackingStore(isolate, size);
  std::memcpy(store->Data(), chunk.data(), size);
  auto buffer = v8::ArrayBuffer::New(isolate, std::move(store));
  // The chunk has left the queue: the supervisor may send as much again.
  stream.requestWindow.passedOn(size);
  sendCredit(id, stream.requestWindow.grant());
  ignoreOutcome(done->Resolve(context, v8::Uint8Array::New(buffer, 0, size)));
}

void BodyStreams::startResponse(uint64_t id) {
  Stream& stream = streams_[id];
  stream.responding = true;
  stream.responseWindow = CreditSender(ipc::kBodyWindowBytes);
}

bool BodyStreams::responseStarted(uint64_t id) const {
  auto it = streams_.find(id);
  return it != streams_.end() && it->second.responding;
}

void BodyStreams::write(v8::Local<v8::Context> context, uint64_t id, v8::Local<v8::Value> bytes,
                        v8::Local<v8::Promise::Resolver> done) {
  auto it = streams_.find(id);
  if (it == streams_.end() || !it->second.responding || it->second.endRequested) {
    return rejectWithTypeError(context, done,
                               "the response body can no longer be written (request finished)");
  }
  Stream& stream = it->second;
  if (!stream.writer.IsEmpty()) {
    return rejectWithTypeError(context, done, "a write of the response body is already pending");
  }
  if (!bytes->IsArrayBufferView()) {
    return rejectWithTypeError(context, done, "response body chunks must be Uint8Arrays");
  }
  auto view = bytes.As<v8::ArrayBufferView>();
  size_t size = view->ByteLength();
  size_t offset = stream.pending.size();
  stream.pending.resize(offset + size);
  view->CopyContents(stream.pending.data() + offset, size);
  flush(id, stream);
  if (stream.pendingOffset == stream.pending.size()) {
    ignoreOutcome(done->Resolve(context, v8::Undefined(context->GetIsolate())));
    return;
  }
  stream.writer.Reset(context->GetIsolate(), done);
}

bool BodyStreams::end(uint64_t id, bool aborted) {
  auto it = streams_.find(id);
  if (it == streams_.end() || !it->second.responding || it->second.ended) return false;
  Stream& stream = it->second;
  if (aborted) {
    stream.pending.clear();
    stream.pendingOffset = 0;
    sendChunk(id, nullptr, 0, /*end=*/true, /*aborted=*/true);
    stream.ended = true;
    return true;
  }
  stream.endRequested = true;
  return flush(id, stream);
}

bool BodyStreams::flush(uint64_t id, Stream& stream) {
  while (stream.responseWindow.room() > 0 && stream.pendingOffset < stream.pending.size()) {
    size_t n = std::min<size_t>({stream.responseWindow.room(), ipc::kBodyChunkBytes,
                                 stream.pending.size() - stream.pendingOffset});
    sendChunk(id, stream.pending.data() + stream.pendingOffset, n, false, false);
    stream.pendingOffset += n;
    stream.responseWindow.sent(n);
  }
  if (stream.pendingOffset < stream.pending.size()) return false;
  stream.pending.clear();
  stream.pendingOffset = 0;
  if (stream.endRequested && !stream.ended) {
    sendChunk(id, nullptr, 0, /*end=*/true, /*aborted=*/false);
    stream.ended = true;
    return true;
  }
  return false;
}

void BodyStreams::sendChunk(uint64_t id, const char* data, size_t size, bool end, bool aborted) {
  capnp::MallocMessageBuilder message;
  auto chunk = message.initRoot<ipc::Envelope>().initBodyChunk();
  chunk.setId(id);
  if (size > 0) {
    chunk.setData(kj::arrayPtr(reinterpret_cast<const kj::byte*>(data), size));
  }
  chunk.setEnd(end);
  chunk.setAborted(aborted);
  outbox_.send(message);
}

bool BodyStreams::settleable(uint64_t id) const {
  auto it = streams_.find(id);
  if (it == streams_.end()) return false;
  const Stream& stream = it->second;
  if (stream.collecting) return !stream.reader.IsEmpty() && stream.requestEnded;
  return (!stream.reader.IsEmpty() && (!stream.chunks.empty() || stream.requestEnded)) ||
         (!stream.writer.IsEmpty() && stream.pending.empty());
}

void BodyStreams::settle(v8::Local<v8::Context> context, uint64_t id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  Stream& stream = it->second;
  v8::Isolate* isolate = context->GetIsolate();
  if (stream.collecting) {
    if (!stream.reader.IsEmpty() && stream.requestEnded) {
      v8::Local<v8::Promise::Resolver> reader = stream.reader.Get(isolate);
      stream.reader.Reset();
      resolveAll(context, stream, reader);
    }
  } else if (!stream.reader.IsEmpty() && (!stream.chunks.empty() || stream.requestEnded)) {
    v8::Local<v8::Promise::Resolver> reader = stream.reader.Get(isolate);
    stream.reader.Reset();
    resolveRead(context, id, stream, reader);
  }
  if (!stream.writer.IsEmpty() && stream.pending.empty()) {
    v8::Local<v8::Promise::Resolver> writer = stream.writer.Get(isolate);
    stream.writer.Reset();
    ignoreOutcome(writer->Resolve(context, v8::Undefined(isolate)));
  }
}

}  // namespace isolated::worker
