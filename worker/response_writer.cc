// Response and Log message encoding.
#include "worker/response_writer.h"

#include <capnp/message.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "ipc/messages.capnp.h"
#include "ipc/small_message_builder.h"

namespace isolated::worker {

namespace {

// Header text a response may have without setHeaders() allocating for it.
constexpr size_t kInlineHeaderBytes = 1024;

// Sets the headers from `headerText` ("name\0value\0...", see response_writer.h). Each NUL
// ends a name or value, and so is also the terminator capnp::Text::Reader asks for.
void setHeaders(v8::Isolate* isolate, ipc::Response::Builder response,
                v8::Local<v8::String> headerText) {
  auto length = static_cast<size_t>(headerText->Length());
  std::array<uint8_t, kInlineHeaderBytes> inlineBytes;
  std::vector<uint8_t> manyBytes;
  uint8_t* bytes = inlineBytes.data();
  if (length + 1 > inlineBytes.size()) {
    manyBytes.resize(length + 1);
    bytes = manyBytes.data();
  }
  headerText->WriteOneByte(isolate, bytes, 0, static_cast<int>(length),
                           v8::String::NO_NULL_TERMINATION);
  bytes[length] = '\0';  // a last value without its NUL still ends
  const char* text = reinterpret_cast<const char*>(bytes);
  size_t fields = static_cast<size_t>(std::count(text, text + length, '\0'));
  if (length > 0 && text[length - 1] != '\0') ++fields;
  auto headers = response.initHeaders(static_cast<unsigned>((fields + 1) / 2));
  size_t at = 0;
  for (size_t i = 0; at < length; ++i) {
    size_t nameSize = strlen(text + at);
    headers[i].setName(capnp::Text::Reader(text + at, nameSize));
    at += nameSize + 1;
    if (at >= length) break;  // a name without a value: the value stays empty
    size_t valueSize = strlen(text + at);
    headers[i].setValue(capnp::Text::Reader(text + at, valueSize));
    at += valueSize + 1;
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
                                      v8::Local<v8::String> headerText, bool waitUntilPending) {
  ipc::SmallMessageBuilder message;
  auto response = message.initRoot<ipc::Envelope>().initResponse();
  response.setId(id);
  response.setStatus(status);
  response.setBodyFollows(true);
  response.setWaitUntilPending(waitUntilPending);
  setHeaders(isolate, response, headerText);
  outbox_.send(message);
}

void ResponseWriter::response(v8::Isolate* isolate, uint64_t id, uint16_t status,
                              v8::Local<v8::String> headerText, v8::Local<v8::Value> body,
                              bool waitUntilPending) {
  ipc::SmallMessageBuilder message;
  auto response = message.initRoot<ipc::Envelope>().initResponse();
  response.setId(id);
  response.setStatus(status);
  response.setWaitUntilPending(waitUntilPending);
  setHeaders(isolate, response, headerText);
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

void ResponseWriter::runtimeError(uint64_t id, std::string_view kind, const std::string& detail,
                                  bool waitUntilPending) {
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
  response.setWaitUntilPending(waitUntilPending);
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
