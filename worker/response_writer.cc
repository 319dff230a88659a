// Response and Log message encoding.
#include "worker/response_writer.h"

#include <capnp/message.h>

#include <algorithm>

#include "ipc/messages.capnp.h"
#include "ipc/small_message_builder.h"

namespace isolated::worker {

namespace {

// Writes a ByteString (header name or value) as Latin-1, the way fetch defines header bytes.
std::string latin1(v8::Isolate* isolate, v8::Local<v8::Value> value) {
  v8::Local<v8::String> s;
  if (!value->ToString(isolate->GetCurrentContext()).ToLocal(&s)) return {};
  std::string out(static_cast<size_t>(s->Length()), '\0');
  s->WriteOneByte(isolate, reinterpret_cast<uint8_t*>(out.data()), 0, s->Length(),
                  v8::String::NO_NULL_TERMINATION);
  return out;
}

void setHeaders(v8::Isolate* isolate, ipc::Response::Builder response,
                v8::Local<v8::Array> flatHeaders) {
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  uint32_t count = flatHeaders->Length() / 2;
  auto headers = response.initHeaders(count);
  for (uint32_t i = 0; i < count; ++i) {
    v8::Local<v8::Value> name, value;
    if (!flatHeaders->Get(context, 2 * i).ToLocal(&name) ||
        !flatHeaders->Get(context, 2 * i + 1).ToLocal(&value)) {
      break;  // only when execution is being terminated
    }
    headers[i].setName(latin1(isolate, name));
    headers[i].setValue(latin1(isolate, value));
  }
}

struct RuntimeErrorReply {
  std::string_view kind;
  uint16_t status;
  std::string_view body;
};

constexpr RuntimeErrorReply kRuntimeErrors[] = {
    {runtime_error::kScriptThrew, 500, "Internal Server Error: the script threw an exception\n"},
    {"bad-response", 500, "Internal Server Error: the script did not return a Response\n"},
    {"no-response", 500, "Internal Server Error: no fetch handler answered the request\n"},
    {runtime_error::kCpuLimit, 503,
     "Service Unavailable: the script exceeded its CPU time limit\n"},
    {runtime_error::kMemoryLimit, 503,
     "Service Unavailable: the script exceeded its memory limit\n"},
    {runtime_error::kContextReset, 503,
     "Service Unavailable: the request was lost when the script's state was reset\n"},
    {runtime_error::kAppFailed, 503, "Service Unavailable: the app's script could not be loaded\n"},
};

}  // namespace

void ResponseWriter::streamedResponse(v8::Isolate* isolate, uint64_t id, uint16_t status,
                                      v8::Local<v8::Array> flatHeaders) {
  ipc::SmallMessageBuilder message;
  auto response = message.initRoot<ipc::Envelope>().initResponse();
  response.setId(id);
  response.setStatus(status);
  response.setBodyFollows(true);
  setHeaders(isolate, response, flatHeaders);
  outbox_.send(message);
}

void ResponseWriter::response(v8::Isolate* isolate, uint64_t id, uint16_t status,
                              v8::Local<v8::Array> flatHeaders, v8::Local<v8::Value> body) {
  ipc::SmallMessageBuilder message;
  auto response = message.initRoot<ipc::Envelope>().initResponse();
  response.setId(id);
  response.setStatus(status);
  setHeaders(isolate, response, flatHeaders);
  if (body->IsString()) {
    auto text = body.As<v8::String>();
    int length = text->Utf8Length(isolate);
    auto data = response.initBody(static_cast<unsigned>(length));
    text->WriteUtf8(isolate, reinterpret_cast<char*>(data.begin()), length, nullptr,
                    v8::String::NO_NULL_TERMINATION | v8::String::REPLACE_INVALID_UTF8);
  } else if (body->IsArrayBuffer()) {
    auto store = body.As<v8::ArrayBuffer>()->GetBackingStore();
    response.setBody(
        kj::arrayPtr(static_cast<const kj::byte*>(store->Data()), store->ByteLength()));
  }
  outbox_.send(message);
}

void ResponseWriter::runtimeError(uint64_t id, std::string_view kind, const std::string& detail) {
  log(3, detail, id);
  RuntimeErrorReply reply{kind, 500, "Internal Server Error\n"};
  for (const auto& entry : kRuntimeErrors) {
    if (entry.kind == kind) reply = entry;
  }
  ipc::SmallMessageBuilder message;
  auto response = message.initRoot<ipc::Envelope>().initResponse();
  response.setId(id);
  response.setStatus(reply.status);
  auto headers = response.initHeaders(1);
  headers[0].setName("content-type");
  headers[0].setValue("text/plain; charset=utf-8");
  response.setBody(
      kj::arrayPtr(reinterpret_cast<const kj::byte*>(reply.body.data()), reply.body.size()));
  response.setRuntimeError(capnp::Text::Reader(kind.data(), kind.size()));
  outbox_.send(message);
}

void ResponseWriter::log(int level, const std::string& text, uint64_t requestId) {
  if (outbox_.pendingBytes() > logBacklogBytes_) {
    ++droppedLogLines_;
    return;
  }
  ipc::SmallMessageBuilder message;
  auto log = message.initRoot<ipc::Envelope>().initLog();
  static constexpr ipc::Log::Level kLevels[] = {ipc::Log::Level::DEBUG, ipc::Log::Level::INFO,
                                                ipc::Log::Level::WARN, ipc::Log::Level::ERROR};
  log.setLevel(kLevels[std::clamp(level, 0, 3)]);
  log.setMessage(text);
  log.setRequestId(requestId);
  log.setApp(app_);
  outbox_.send(message);
}

}  // namespace isolated::worker
