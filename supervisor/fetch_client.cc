// FetchClient: one libcurl easy handle per hop of each outbound fetch, its callbacks, and the
// FetchHead/FetchBody/FetchFailed messages that answer the worker. What a FetchStart may ask is
// checked in fetch_request.cc, the response head parsed in fetch_response_head.cc, and a streamed
// request body buffered in upload_buffer.cc.
#include "supervisor/fetch_client.h"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <optional>
#include <string_view>
#include <vector>

#include "ipc/protocol.h"
#include "supervisor/fetch_request.h"
#include "supervisor/fetch_response_head.h"
#include "supervisor/upload_buffer.h"

namespace isolated::supervisor {

namespace {

using Redirect = ipc::FetchStart::RedirectMode;

}  // namespace

struct FetchClient::Transfer {
  Transfer(FetchClient* owner, uint32_t worker, uint64_t fetch, FetchRequest what)
      : client(owner),
        workerId(worker),
        fetchId(fetch),
        request(std::move(what)),
        upload(request.uploadLength) {}

  FetchClient* client;
  uint32_t workerId;
  uint64_t fetchId;
  // The current hop's request: a redirect changes its URL, and may its method, body and headers.
  FetchRequest request;
  int redirects = 0;

  CurlEasyPtr easy;
  CurlSlistPtr headerList;
  std::array<char, CURL_ERROR_SIZE> errorBuffer{};

  // The response being received (one per hop).
  FetchResponseHead head;
  bool redirectPending = false;  // a redirect to follow: its body is discarded
  bool headSent = false;

  // Response bytes sent to the worker and not yet credited; `paused` while libcurl holds the
  // next piece because it does not fit.
  CreditSender window{ipc::kFetchWindowBytes};
  bool paused = false;

  // A streamed request body (request.streamed); `uploadPaused` while libcurl waits for more.
  UploadBuffer upload;
  bool uploadPaused = false;
  // Why a callback stopped the transfer; reported instead of libcurl's error.
  std::string refusal;
  std::string failure;
};

FetchClient::FetchClient(event_base* base, FetchOptions options, Send send, Logger& logger)
    : options_(std::move(options)),
      send_(std::move(send)),
      logger_(logger),
      loop_(std::make_unique<CurlMultiLoop>(
          base, [this](CURL* easy, CURLcode result) { onDone(easy, result); })) {}

FetchClient::~FetchClient() {
  for (auto& [key, transfer] : transfers_) {
    if (transfer->easy) loop_->remove(transfer->easy.get());
  }
}

size_t FetchClient::activeCount(uint32_t workerId) const {
  auto first = transfers_.lower_bound({workerId, 0});
  auto last = transfers_.lower_bound({workerId + 1, 0});
  return static_cast<size_t>(std::distance(first, last));
}

void FetchClient::refuse(uint32_t workerId, uint64_t fetchId, const std::string& message) {
  ++outcomes_["refused"];
  sendFailed(workerId, fetchId, message);
}

void FetchClient::sendFailed(uint32_t workerId, uint64_t fetchId, const std::string& message) {
  capnp::MallocMessageBuilder builder;
  auto failed = builder.initRoot<ipc::Envelope>().initFetchFailed();
  failed.setFetchId(fetchId);
  failed.setMessage(message);
  send_(workerId, builder);
}

void FetchClient::start(uint32_t workerId, ipc::FetchStart::Reader request) {
  uint64_t fetchId = request.getFetchId();
  if (transfers_.contains({workerId, fetchId})) {
    return refuse(workerId, fetchId, "fetch id " + std::to_string(fetchId) + " is in use");
  }
  std::string error;
  std::optional<FetchRequest> parsed = tryParseFetchStart(request, error);
  if (!parsed) return refuse(workerId, fetchId, error);
  auto transfer = std::make_unique<Transfer>(this, workerId, fetchId, std::move(*parsed));
  Transfer& ref = *transfer;
  transfers_.emplace(Key{workerId, fetchId}, std::move(transfer));
  launch(ref);
}

void FetchClient::launch(Transfer& t) {
  t.easy.reset(curl_easy_init());
  if (!t.easy)
    return fail(t, "fetch to " + t.request.url + " failed: cannot create a transfer", "failed");
  CURL* e = t.easy.get();
  t.head.reset();
  t.redirectPending = false;
  t.errorBuffer[0] = '\0';

  curl_easy_setopt(e, CURLOPT_PRIVATE, &t);
  curl_easy_setopt(e, CURLOPT_URL, t.request.url.c_str());
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  // Never a proxy from the environment: --fetch-deny must see the real destination.
  curl_easy_setopt(e, CURLOPT_PROXY, "");
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t.errorBuffer.data());
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connectTimeout.count()));
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.totalTimeout.count()));
  if (!options_.caFile.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, options_.caFile.c_str());
  curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, &FetchClient::onOpenSocket);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, &t);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &FetchClient::onHeader);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &FetchClient::onWrite);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);

  bool hasContentType = false;
  curl_slist* list = nullptr;
  auto append = [&](const std::string& line) {
    if (curl_slist* next = curl_slist_append(list, line.c_str())) list = next;
  };
  for (const auto& [name, value] : t.request.headers) {
    if (isComputedHeader(name)) continue;
    hasContentType |= name == "content-type";
    // libcurl sends "name;" as a header with an empty value ("name:" would remove it).
    append(value.empty() ? name + ";" : name + ": " + value);
  }
  append("Expect:");                             // no 100-continue round trip for bodies
  if (!hasContentType) append("Content-Type:");  // nor libcurl's form default
  t.headerList.reset(list);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, list);
  // No Accept-Encoding of our own and no decoding: the body the script sees is the body its
  // headers describe, so a fetched response passed through unchanged stays consistent.

  if (t.request.streamed) {
    // A streamed body is sent once; a redirect that needs it again fails in onHeader.
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    if (t.request.method != "POST")
      curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, t.request.method.c_str());
    curl_easy_setopt(e, CURLOPT_READFUNCTION, &FetchClient::onRead);
    curl_easy_setopt(e, CURLOPT_READDATA, &t);
    // Unknown length (-1): libcurl uses chunked transfer encoding (HTTP/1.1).
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, t.request.uploadLength.value_or(-1));
  } else if (t.request.method == "HEAD") {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (t.request.method != "GET") {
    if (t.request.method != "POST")
      curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, t.request.method.c_str());
    if (!t.request.body.empty() || t.request.method == "POST" || t.request.method == "PUT") {
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(t.request.body.size()));
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, t.request.body.data());
    }
  }

  try {
    loop_->add(e);
  } catch (const std::exception& error) {
    return fail(t, "fetch to " + t.request.url + " failed: " + error.what(), "failed");
  }
  byEasy_[e] = &t;
}

curl_socket_t FetchClient::onOpenSocket(void* data, curlsocktype purpose, curl_sockaddr* address) {
  auto& t = *static_cast<Transfer*>(data);
  if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
  const sockaddr* target = &address->addr;
  if (const Cidr* range = t.client->options_.deny.match(target)) {
    t.refusal = "fetch to " + t.request.url + " refused: " + addressText(target) +
                " is in the --fetch-deny range " + range->text;
    return CURL_SOCKET_BAD;
  }
  int fd = ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
  return fd < 0 ? CURL_SOCKET_BAD : fd;
}

size_t FetchClient::onHeader(char* data, size_t size, size_t count, void* self) {
  auto& t = *static_cast<Transfer*>(self);
  size_t length = size * count;
  if (t.headSent) return length;  // trailers
  switch (t.head.addLine(std::string_view(data, length))) {
    case FetchResponseHead::Line::kTooLarge:
      t.failure = "fetch to " + t.request.url + " failed: the response headers exceed " +
                  std::to_string(ipc::kFetchMaxHeaders) + " headers or " +
                  std::to_string(ipc::kFetchMaxHeaderBytes) + " bytes";
      return 0;
    case FetchResponseHead::Line::kEnd:
      break;
    default:
      return length;
  }
  long status = 0;
  curl_easy_getinfo(t.easy.get(), CURLINFO_RESPONSE_CODE, &status);
  if (status < 200) return length;  // informational; the real head follows
  t.head.status = status;
  if (isRedirectStatus(status) && t.head.hasLocation && t.request.mode != Redirect::MANUAL) {
    if (t.request.streamed && !t.request.redirectDropsBody(status) &&
        t.request.mode == Redirect::FOLLOW) {
      // The Fetch spec's HTTP-redirect fetch: a body whose source is a stream cannot be
      // sent again, so this is a network error. Stop at once rather than finish the upload.
      t.failure = "fetch to " + t.request.url + " was redirected (status " +
                  std::to_string(status) + ") but its body is a stream, which cannot be sent again";
      return 0;
    }
    t.redirectPending = true;
  } else {
    t.client->sendHead(t);
  }
  return length;
}

size_t FetchClient::onWrite(char* data, size_t size, size_t count, void* self) {
  auto& t = *static_cast<Transfer*>(self);
  size_t length = size * count;
  if (t.redirectPending) return length;
  if (!t.headSent) t.client->sendHead(t);
  // A piece goes out whole (libcurl's pieces are smaller than the window) when nothing is in
  // flight.
  if (!t.window.idle() && !t.window.fits(length)) {
    // libcurl keeps these bytes and delivers them again once credit() unpauses.
    t.paused = true;
    return CURL_WRITEFUNC_PAUSE;
  }
  t.client->sendBody(t, data, length, false);
  return length;
}

size_t FetchClient::onRead(char* buffer, size_t size, size_t count, void* self) {
  auto& t = *static_cast<Transfer*>(self);
  if (size_t taken = t.upload.take(buffer, size * count); taken > 0) {
    uint64_t grant = t.upload.grant();
    if (!t.upload.ended()) t.client->sendUploadCredit(t, grant);
    return taken;
  }
  if (t.upload.ended()) return 0;  // the end of the body
  t.uploadPaused = true;           // upload() unpauses once the worker sends more
  return CURL_READFUNC_PAUSE;
}

void FetchClient::sendUploadCredit(Transfer& t, size_t bytes) {
  capnp::MallocMessageBuilder builder;
  auto credit = builder.initRoot<ipc::Envelope>().initFetchUploadCredit();
  credit.setFetchId(t.fetchId);
  credit.setBytes(static_cast<uint32_t>(bytes));
  send_(t.workerId, builder);
}

void FetchClient::updatePause(Transfer& t) {
  if (!t.easy) return;
  int mask = (t.paused ? CURLPAUSE_RECV : 0) | (t.uploadPaused ? CURLPAUSE_SEND : 0);
  // May call onRead/onWrite at once (which may pause again).
  curl_easy_pause(t.easy.get(), mask);
}

void FetchClient::upload(uint32_t workerId, uint64_t fetchId, capnp::Data::Reader data, bool end) {
  auto it = transfers_.find({workerId, fetchId});
  if (it == transfers_.end()) return;  // finished or aborted: the chunk crossed that
  Transfer& t = *it->second;
  if (t.upload.dropped()) return;
  if (!t.request.streamed || t.upload.ended()) {
    return fail(t, "fetch protocol error: upload data for a fetch without a streamed body",
                "failed");
  }
  switch (t.upload.add(data, end)) {
    case UploadBuffer::Refusal::kBeyondWindow:
      return fail(t, "fetch protocol error: the worker sent upload data beyond its window",
                  "failed");
    case UploadBuffer::Refusal::kBeyondLength:
      return fail(t,
                  "fetch to " + t.request.url + " failed: the body is longer than its " +
                      "Content-Length " + std::to_string(*t.request.uploadLength),
                  "failed");
    case UploadBuffer::Refusal::kNone:
      break;
  }
  if (t.uploadPaused) {
    t.uploadPaused = false;
    updatePause(t);
  }
}

void FetchClient::sendHead(Transfer& t) {
  capnp::MallocMessageBuilder builder;
  auto head = builder.initRoot<ipc::Envelope>().initFetchHead();
  head.setFetchId(t.fetchId);
  head.setStatus(static_cast<uint16_t>(t.head.status));
  head.setStatusText(t.head.statusText);
  auto list = head.initHeaders(static_cast<unsigned>(t.head.headers.size()));
  for (unsigned i = 0; i < t.head.headers.size(); ++i) {
    list[i].setName(t.head.headers[i].first);
    list[i].setValue(t.head.headers[i].second);
  }
  head.setUrl(t.request.url);
  head.setRedirected(t.redirects > 0);
  t.headSent = true;
  send_(t.workerId, builder);
}

void FetchClient::sendBody(Transfer& t, const char* data, size_t size, bool end) {
  do {
    size_t part = std::min(size, ipc::kFetchMaxChunkBytes);
    capnp::MallocMessageBuilder builder;
    auto chunk = builder.initRoot<ipc::Envelope>().initFetchBody();
    chunk.setFetchId(t.fetchId);
    chunk.setData(kj::arrayPtr(reinterpret_cast<const kj::byte*>(data), part));
    chunk.setEnd(end && part == size);
    send_(t.workerId, builder);
    t.window.sent(part);
    data += part;
    size -= part;
  } while (size > 0);
}

void FetchClient::onDone(CURL* easy, CURLcode result) {
  auto it = byEasy_.find(easy);
  if (it == byEasy_.end()) return;
  Transfer& t = *it->second;
  if (!t.refusal.empty()) return fail(t, t.refusal, "denied");
  if (!t.failure.empty()) return fail(t, t.failure, "failed");
  if (result != CURLE_OK) {
    return fail(t,
                "fetch to " + t.request.url + " failed: " +
                    (t.errorBuffer[0] != '\0' ? std::string(t.errorBuffer.data())
                                              : std::string(curl_easy_strerror(result))),
                "failed");
  }
  if (t.redirectPending) return followRedirect(t);
  if (!t.headSent) {
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &t.head.status);
    sendHead(t);
  }
  sendBody(t, nullptr, 0, true);
  ++outcomes_["completed"];
  finish(t);
}

void FetchClient::followRedirect(Transfer& t) {
  if (t.request.mode == Redirect::ERROR) {
    return fail(t,
                "fetch to " + t.request.url + " was redirected (status " +
                    std::to_string(t.head.status) + ") and its redirect mode is 'error'",
                "failed");
  }
  if (++t.redirects > kMaxRedirects) {
    return fail(t,
                "fetch to " + t.request.url + " failed: more than " +
                    std::to_string(kMaxRedirects) + " redirects",
                "failed");
  }
  char* next = nullptr;
  curl_easy_getinfo(t.easy.get(), CURLINFO_REDIRECT_URL, &next);
  std::string target = next != nullptr ? next : "";
  auto fromOrigin = httpOrigin(t.request.url);
  auto toOrigin = httpOrigin(target);
  if (!toOrigin) {
    return fail(t,
                "fetch to " + t.request.url + " was redirected to '" + target +
                    "', which is not an http: or https: URL",
                "failed");
  }
  // The Fetch spec's HTTP-redirect fetch: 303 turns anything but GET/HEAD into GET, 301/302
  // turn POST into GET; either way the body and its headers go.
  if (t.request.redirectDropsBody(t.head.status)) {
    t.request.dropBodyForRedirect();
    if (t.request.streamed) {
      // The rest of a streamed body is not wanted any more: its chunks are dropped.
      t.request.streamed = false;
      t.upload.drop();
    }
  }
  if (fromOrigin != toOrigin) t.request.dropCredentials();
  loop_->remove(t.easy.get());
  byEasy_.erase(t.easy.get());
  t.easy.reset();
  t.request.url = std::move(target);
  launch(t);
}

void FetchClient::fail(Transfer& t, const std::string& message, const char* outcome) {
  logger_.debug("fetch failed", {{"worker", t.workerId}, {"error", message}});
  ++outcomes_[outcome];
  sendFailed(t.workerId, t.fetchId, message);
  finish(t);
}

void FetchClient::finish(Transfer& t) {
  if (t.easy) {
    loop_->remove(t.easy.get());
    byEasy_.erase(t.easy.get());
  }
  transfers_.erase(Key{t.workerId, t.fetchId});
}

void FetchClient::credit(uint32_t workerId, uint64_t fetchId, uint32_t bytes) {
  auto it = transfers_.find({workerId, fetchId});
  if (it == transfers_.end()) return;
  Transfer& t = *it->second;
  t.window.credit(bytes);
  // Resumed at half a window, so that the transfer is not paused again by the next piece.
  if (t.paused && t.window.inFlight() <= t.window.window() / 2 && t.easy) {
    t.paused = false;
    // May deliver the held bytes at once, through onWrite (which may pause again).
    updatePause(t);
  }
}

void FetchClient::abort(uint32_t workerId, uint64_t fetchId) {
  auto it = transfers_.find({workerId, fetchId});
  if (it == transfers_.end()) return;
  ++outcomes_["aborted"];
  finish(*it->second);
}

void FetchClient::failParent(uint32_t workerId, uint64_t parentId, const std::string& message) {
  std::vector<Transfer*> matching;
  for (auto it = transfers_.lower_bound({workerId, 0});
       it != transfers_.end() && it->first.first == workerId; ++it) {
    if (it->second->request.parentId == parentId) matching.push_back(it->second.get());
  }
  for (Transfer* t : matching)
    fail(*t, message, "cancelled");
}

void FetchClient::dropWorker(uint32_t workerId) {
  std::vector<Transfer*> matching;
  for (auto it = transfers_.lower_bound({workerId, 0});
       it != transfers_.end() && it->first.first == workerId; ++it) {
    matching.push_back(it->second.get());
  }
  outcomes_["aborted"] += matching.size();
  for (Transfer* t : matching)
    finish(*t);
}

}  // namespace isolated::supervisor
