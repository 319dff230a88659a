// fetchStart, fetchRead, fetchWrite, fetchEnd and fetchAbort: argument checks and IPC encoding.
#include "worker/fetch_bindings.h"

#include <cstring>
#include <string>

#include "ipc/protocol.h"
#include "worker/outbound_fetches.h"
#include "worker/runtime_host.h"
#include "worker/v8_values.h"

namespace isolated::worker {

namespace {

using Info = v8::FunctionCallbackInfo<v8::Value>;

OutboundFetches* fetchesOf(const Info& info) {
  OutboundFetches* fetches = hostOf(info).fetches();
  if (fetches == nullptr) throwTypeError(info.GetIsolate(), "fetch() is not available here");
  return fetches;
}

// The request the running JavaScript works for (the host's continuation-preserved embedder
// data, carried into every promise job); 0 if none.
uint64_t currentRequestId(v8::Local<v8::Context> context) {
  v8::Local<v8::Value> current = context->GetContinuationPreservedEmbedderData();
  return current->IsNumber() ? static_cast<uint64_t>(current.As<v8::Number>()->Value()) : 0;
}

// Copies a string (as UTF-8), an ArrayBuffer or a view into `out`; false if it is none of them.
bool bodyBytes(v8::Isolate* isolate, v8::Local<v8::Value> body, std::string& out) {
  if (body->IsString()) {
    out = utf8(isolate, body);
  } else if (body->IsArrayBuffer()) {
    auto store = body.As<v8::ArrayBuffer>()->GetBackingStore();
    out.assign(static_cast<const char*>(store->Data()), store->ByteLength());
  } else if (body->IsArrayBufferView()) {
    auto view = body.As<v8::ArrayBufferView>();
    out.resize(view->ByteLength());
    view->CopyContents(out.data(), out.size());
  } else {
    return false;
  }
  return true;
}

void fetchStart(const Info& info) {
  v8::Isolate* isolate = info.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  OutboundFetches* fetches = fetchesOf(info);
  if (fetches == nullptr) return;

  capnp::MallocMessageBuilder message;
  auto start = message.initRoot<ipc::Envelope>().initFetchStart();
  start.setMethod(utf8(isolate, info[0]));
  std::string url = utf8(isolate, info[1]);
  if (url.size() > ipc::kFetchMaxUrlBytes) {
    return throwTypeError(isolate, "fetch(): the URL is longer than " +
                                       std::to_string(ipc::kFetchMaxUrlBytes) + " bytes");
  }
  start.setUrl(url);

  if (!info[2]->IsArray()) return throwTypeError(isolate, "fetch(): headers must be an array");
  auto flat = info[2].As<v8::Array>();
  uint32_t count = flat->Length() / 2;
  if (count > ipc::kFetchMaxHeaders) {
    return throwTypeError(isolate, "fetch(): more than " + std::to_string(ipc::kFetchMaxHeaders) +
                                       " request headers");
  }
  auto headers = start.initHeaders(count);
  size_t headerBytes = 0;
  for (uint32_t i = 0; i < count; ++i) {
    v8::Local<v8::Value> name;
    v8::Local<v8::Value> value;
    if (!flat->Get(context, 2 * i).ToLocal(&name) ||
        !flat->Get(context, 2 * i + 1).ToLocal(&value)) {
      return;
    }
    std::string n = utf8(isolate, name);
    std::string v = utf8(isolate, value);
    headerBytes += n.size() + v.size();
    headers[i].setName(n);
    headers[i].setValue(v);
  }
  if (headerBytes > ipc::kFetchMaxHeaderBytes) {
    return throwTypeError(isolate, "fetch(): the request headers exceed " +
                                       std::to_string(ipc::kFetchMaxHeaderBytes) + " bytes");
  }

  if (!info[3]->IsNullOrUndefined()) {
    std::string body;
    if (!bodyBytes(isolate, info[3], body)) {
      return throwTypeError(isolate, "fetch(): unsupported body type");
    }
    if (body.size() > ipc::kFetchMaxRequestBodyBytes) {
      return throwTypeError(isolate, "fetch(): the request body exceeds " +
                                         std::to_string(ipc::kFetchMaxRequestBodyBytes >> 20) +
                                         " MB");
    }
    start.setBody(kj::arrayPtr(reinterpret_cast<const kj::byte*>(body.data()), body.size()));
  }

  if (info[5]->BooleanValue(isolate)) {
    if (!info[3]->IsNullOrUndefined()) {
      return throwTypeError(isolate, "fetch(): a streamed body cannot also be given whole");
    }
    start.setBodyFollows(true);
  }

  std::string redirect = utf8(isolate, info[4]);
  using Mode = ipc::FetchStart::RedirectMode;
  if (redirect == "follow") {
    start.setRedirect(Mode::FOLLOW);
  } else if (redirect == "manual") {
    start.setRedirect(Mode::MANUAL);
  } else if (redirect == "error") {
    start.setRedirect(Mode::ERROR);
  } else {
    return throwTypeError(isolate, "fetch(): redirect must be 'follow', 'manual' or 'error'");
  }

  if (!info[6]->IsUndefined()) {
    std::string service = utf8(isolate, info[6]);
    if (service.empty() || service.size() > ipc::kBindingMaxNameBytes) {
      return throwTypeError(isolate, "fetch(): bad service binding name");
    }
    start.setService(service);
  }

  auto [id, head] = fetches->start(context, currentRequestId(context), message, start);
  v8::Local<v8::Value> result[] = {v8::Number::New(isolate, static_cast<double>(id)), head};
  info.GetReturnValue().Set(v8::Array::New(isolate, result, 2));
}

uint64_t fetchIdArg(const Info& info) {
  return static_cast<uint64_t>(
      info[0]->IntegerValue(info.GetIsolate()->GetCurrentContext()).FromMaybe(0));
}

void fetchRead(const Info& info) {
  OutboundFetches* fetches = fetchesOf(info);
  if (fetches == nullptr) return;
  info.GetReturnValue().Set(
      fetches->read(info.GetIsolate()->GetCurrentContext(), fetchIdArg(info)));
}

// fetchWrite(id, bytes): the next piece (a Uint8Array of at most kFetchMaxChunkBytes) of a
// streamed request body; a promise of whether it was sent (see OutboundFetches::write).
void fetchWrite(const Info& info) {
  v8::Isolate* isolate = info.GetIsolate();
  OutboundFetches* fetches = fetchesOf(info);
  if (fetches == nullptr) return;
  if (!info[1]->IsArrayBufferView()) {
    return throwTypeError(isolate, "fetch(): request body chunks must be Uint8Arrays");
  }
  auto view = info[1].As<v8::ArrayBufferView>();
  if (view->ByteLength() > ipc::kFetchMaxChunkBytes) {
    isolate->ThrowException(v8::Exception::RangeError(
        v8::String::NewFromUtf8Literal(isolate, "fetchWrite(): the piece exceeds 64 KiB")));
    return;
  }
  std::string data(view->ByteLength(), '\0');
  view->CopyContents(data.data(), data.size());
  info.GetReturnValue().Set(
      fetches->write(isolate->GetCurrentContext(), fetchIdArg(info), std::move(data)));
}

void fetchEnd(const Info& info) {
  OutboundFetches* fetches = fetchesOf(info);
  if (fetches == nullptr) return;
  fetches->end(fetchIdArg(info));
}

void fetchAbort(const Info& info) {
  OutboundFetches* fetches = fetchesOf(info);
  if (fetches == nullptr) return;
  fetches->abort(info.GetIsolate()->GetCurrentContext(), fetchIdArg(info), info[1]);
}

constexpr NativeFunction kFetchFunctions[] = {
    {"fetchStart", &fetchStart}, {"fetchRead", &fetchRead},   {"fetchWrite", &fetchWrite},
    {"fetchEnd", &fetchEnd},     {"fetchAbort", &fetchAbort},
};

}  // namespace

std::span<const NativeFunction> fetchFunctions() {
  return kFetchFunctions;
}

}  // namespace isolated::worker
