// FetchClient: one libcurl easy handle per hop of each outbound fetch.
#include "supervisor/fetch_client.h"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <deque>
#include <optional>
#include <string_view>
#include <vector>

#include "common/credit_window.h"
#include "ipc/protocol.h"

namespace isolated::supervisor {

namespace {

using Redirect = ipc::FetchStart::RedirectMode;

struct CurlUrlDeleter {
  void operator()(CURLU* url) const { curl_url_cleanup(url); }
};
struct CurlFreeDeleter {
  void operator()(char* text) const { curl_free(text); }
};
using CurlCharPtr = std::unique_ptr<char, CurlFreeDeleter>;

// "scheme://host:port" of an absolute http(s) URL; nullopt for anything else.
std::optional<std::string> httpOrigin(const std::string& url) {
  std::unique_ptr<CURLU, CurlUrlDeleter> parsed(curl_url());
  if (!parsed || curl_url_set(parsed.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
    return std::nullopt;
  }
  char* raw = nullptr;
  if (curl_url_get(parsed.get(), CURLUPART_SCHEME, &raw, 0) != CURLUE_OK) return std::nullopt;
  CurlCharPtr scheme(raw);
  std::string origin = scheme.get();
  if (origin != "http" && origin != "https") return std::nullopt;
  if (curl_url_get(parsed.get(), CURLUPART_HOST, &raw, 0) != CURLUE_OK) return std::nullopt;
  CurlCharPtr host(raw);
  if (curl_url_get(parsed.get(), CURLUPART_PORT, &raw, CURLU_DEFAULT_PORT) != CURLUE_OK) {
    return std::nullopt;
  }
  CurlCharPtr port(raw);
  return origin + "://" + host.get() + ":" + port.get();
}

bool isToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) ||
           std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
  });
}

bool isHeaderValue(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

// Headers libcurl computes itself from the request; a script's values for them are dropped.
bool isComputedHeader(const std::string& lowerName) {
  return lowerName == "host" || lowerName == "content-length" || lowerName == "connection" ||
         lowerName == "transfer-encoding" || lowerName == "expect" || lowerName == "keep-alive" ||
         lowerName == "te" || lowerName == "upgrade";
}

bool isRedirectStatus(long status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

}  // namespace

struct FetchClient::Transfer {
  FetchClient* client;
  uint32_t workerId;
  uint64_t fetchId;
  uint64_t parentId;
  std::string method;
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  Redirect mode;
  int redirects = 0;

  CurlEasyPtr easy;
  CurlSlistPtr headerList;
  std::array<char, CURL_ERROR_SIZE> errorBuffer{};

  // The response being received (one per hop).
  long status = 0;
  std::string statusText;
  std::vector<std::pair<std::string, std::string>> responseHeaders;
  size_t responseHeaderBytes = 0;
  bool hasLocation = false;
  bool redirectPending = false;  // a redirect to follow: its body is discarded
  bool headSent = false;

  // Response bytes sent to the worker and not yet credited; `paused` while libcurl holds the
  // next piece because it does not fit.
  CreditSender window{ipc::kFetchWindowBytes};
  bool paused = false;

  // A streamed request body (bodyFollows): chunks received from the worker and not yet taken
  // by libcurl, at most kFetchWindowBytes in all (held by `uploadWindow`, credited as libcurl
  // takes them).
  bool streamed = false;
  std::deque<std::string> upload;
  size_t uploadOffset = 0;  // into upload.front()
  CreditReceiver uploadWindow{ipc::kFetchWindowBytes};
  bool uploadEnded = false;
  bool uploadPaused = false;
  std::optional<curl_off_t> uploadLength;  // the script's Content-Length, if any
  curl_off_t uploadSent = 0;
  bool uploadDropped = false;  // a 303 (or 301/302 of a POST) turned the fetch into a GET
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
  std::string url = request.getUrl();
  if (url.size() > ipc::kFetchMaxUrlBytes) {
    return refuse(workerId, fetchId,
                  "fetch URL is longer than " + std::to_string(ipc::kFetchMaxUrlBytes) + " bytes");
  }
  if (!httpOrigin(url)) {
    return refuse(workerId, fetchId,
                  "fetch to " + url +
                      " refused: only absolute http: and https: URLs can be "
                      "fetched");
  }
  std::string method = request.getMethod();
  if (!isToken(method)) return refuse(workerId, fetchId, "invalid fetch method '" + method + "'");
  auto headers = request.getHeaders();
  if (headers.size() > ipc::kFetchMaxHeaders) {
    return refuse(workerId, fetchId,
                  "fetch has more than " + std::to_string(ipc::kFetchMaxHeaders) + " headers");
  }
  auto transfer = std::make_unique<Transfer>();
  size_t headerBytes = 0;
  for (auto header : headers) {
    auto nameText = header.getName();
    auto valueText = header.getValue();
    std::string_view name(nameText.cStr(), nameText.size());
    std::string_view value(valueText.cStr(), valueText.size());
    headerBytes += name.size() + value.size();
    if (!isToken(name) || !isHeaderValue(value)) {
      return refuse(workerId, fetchId, "invalid fetch header '" + std::string(name) + "'");
    }
    transfer->headers.emplace_back(lower(name), std::string(trim(value)));
  }
  if (headerBytes > ipc::kFetchMaxHeaderBytes) {
    return refuse(workerId, fetchId,
                  "fetch headers exceed " + std::to_string(ipc::kFetchMaxHeaderBytes) + " bytes");
  }
  auto body = request.getBody();
  if (request.getBodyFollows()) {
    if (body.size() > 0 || method == "GET" || method == "HEAD") {
      return refuse(workerId, fetchId,
                    "fetch has a streamed body and also an inline one, or a GET/HEAD method");
    }
    transfer->streamed = true;
    for (const auto& [name, value] : transfer->headers) {
      if (name != "content-length") continue;
      char* end = nullptr;
      long long length = std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || length < 0) {
        return refuse(workerId, fetchId, "invalid fetch Content-Length '" + value + "'");
      }
      transfer->uploadLength = static_cast<curl_off_t>(length);
    }
  }
  if (body.size() > ipc::kFetchMaxRequestBodyBytes) {
    return refuse(
        workerId, fetchId,
        "fetch request body exceeds " + std::to_string(ipc::kFetchMaxRequestBodyBytes) + " bytes");
  }
  transfer->client = this;
  transfer->workerId = workerId;
  transfer->fetchId = fetchId;
  transfer->parentId = request.getParentId();
  transfer->method = std::move(method);
  transfer->url = std::move(url);
  transfer->body.assign(reinterpret_cast<const char*>(body.begin()), body.size());
  transfer->mode = request.getRedirect();
  Transfer& ref = *transfer;
  transfers_.emplace(Key{workerId, fetchId}, std::move(transfer));
  launch(ref);
}

void FetchClient::launch(Transfer& t) {
  t.easy.reset(curl_easy_init());
  if (!t.easy) return fail(t, "fetch to " + t.url + " failed: cannot create a transfer", "failed");
  CURL* e = t.easy.get();
  t.status = 0;
  t.statusText.clear();
  t.responseHeaders.clear();
  t.responseHeaderBytes = 0;
  t.hasLocation = false;
  t.redirectPending = false;
  t.errorBuffer[0] = '\0';

  curl_easy_setopt(e, CURLOPT_PRIVATE, &t);
  curl_easy_setopt(e, CURLOPT_URL, t.url.c_str());
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
  for (const auto& [name, value] : t.headers) {
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

  if (t.streamed) {
    // A streamed body is sent once; a redirect that needs it again fails in onHeader.
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    if (t.method != "POST") curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, t.method.c_str());
    curl_easy_setopt(e, CURLOPT_READFUNCTION, &FetchClient::onRead);
    curl_easy_setopt(e, CURLOPT_READDATA, &t);
    // Unknown length (-1): libcurl uses chunked transfer encoding (HTTP/1.1).
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, t.uploadLength.value_or(-1));
  } else if (t.method == "HEAD") {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (t.method != "GET") {
    if (t.method != "POST") curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, t.method.c_str());
    if (!t.body.empty() || t.method == "POST" || t.method == "PUT") {
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t.body.size()));
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, t.body.data());
    }
  }

  try {
    loop_->add(e);
  } catch (const std::exception& error) {
    return fail(t, "fetch to " + t.url + " failed: " + error.what(), "failed");
  }
  byEasy_[e] = &t;
}

curl_socket_t FetchClient::onOpenSocket(void* data, curlsocktype purpose, curl_sockaddr* address) {
  auto& t = *static_cast<Transfer*>(data);
  if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
  const sockaddr* target = &address->addr;
  if (const Cidr* range = t.client->options_.deny.match(target)) {
    t.refusal = "fetch to " + t.url + " refused: " + addressText(target) +
                " is in the --fetch-deny range " + range->text;
    return CURL_SOCKET_BAD;
  }
  int fd = ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
  return fd < 0 ? CURL_SOCKET_BAD : fd;
}

size_t FetchClient::onHeader(char* data, size_t size, size_t count, void* self) {
  auto& t = *static_cast<Transfer*>(self);
  size_t length = size * count;
  std::string_view line(data, length);
  if (t.headSent) return length;  // trailers
  if (line.starts_with("HTTP/")) {
    // A new response (after 1xx ones): only the last one's headers count.
    t.responseHeaders.clear();
    t.responseHeaderBytes = 0;
    t.hasLocation = false;
    size_t first = line.find(' ');
    size_t second = first == std::string_view::npos ? first : line.find(' ', first + 1);
    t.statusText = second == std::string_view::npos ? "" : std::string(trim(line.substr(second)));
    return length;
  }
  std::string_view content = trim(line);
  if (content.empty()) {
    long status = 0;
    curl_easy_getinfo(t.easy.get(), CURLINFO_RESPONSE_CODE, &status);
    if (status < 200) return length;  // informational; the real head follows
    t.status = status;
    if (isRedirectStatus(status) && t.hasLocation && t.mode != Redirect::MANUAL) {
      bool dropsBody = (status == 303 && t.method != "GET" && t.method != "HEAD") ||
                       ((status == 301 || status == 302) && t.method == "POST");
      if (t.streamed && !dropsBody && t.mode == Redirect::FOLLOW) {
        // The Fetch spec's HTTP-redirect fetch: a body whose source is a stream cannot be
        // sent again, so this is a network error. Stop at once rather than finish the upload.
        t.failure = "fetch to " + t.url + " was redirected (status " + std::to_string(status) +
                    ") but its body is a stream, which cannot be sent again";
        return 0;
      }
      t.redirectPending = true;
    } else {
      t.client->sendHead(t);
    }
    return length;
  }
  t.responseHeaderBytes += content.size();
  if (t.responseHeaders.size() >= ipc::kFetchMaxHeaders ||
      t.responseHeaderBytes > ipc::kFetchMaxHeaderBytes) {
    t.failure = "fetch to " + t.url + " failed: the response headers exceed " +
                std::to_string(ipc::kFetchMaxHeaders) + " headers or " +
                std::to_string(ipc::kFetchMaxHeaderBytes) + " bytes";
    return 0;
  }
  if ((line.front() == ' ' || line.front() == '\t') && !t.responseHeaders.empty()) {
    t.responseHeaders.back().second += " ";
    t.responseHeaders.back().second += content;  // obsolete line folding
    return length;
  }
  size_t colon = content.find(':');
  if (colon == std::string_view::npos) return length;  // not a header; ignore it
  std::string name = lower(trim(content.substr(0, colon)));
  if (name == "location") t.hasLocation = true;
  t.responseHeaders.emplace_back(std::move(name), std::string(trim(content.substr(colon + 1))));
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
  size_t room = size * count;
  size_t taken = 0;
  while (taken < room && !t.upload.empty()) {
    const std::string& chunk = t.upload.front();
    size_t part = std::min(room - taken, chunk.size() - t.uploadOffset);
    std::memcpy(buffer + taken, chunk.data() + t.uploadOffset, part);
    taken += part;
    t.uploadOffset += part;
    if (t.uploadOffset == chunk.size()) {
      t.upload.pop_front();
      t.uploadOffset = 0;
    }
  }
  if (taken > 0) {
    t.uploadWindow.passedOn(taken);
    uint64_t grant = t.uploadWindow.grant();
    t.uploadSent += static_cast<curl_off_t>(taken);
    if (!t.uploadEnded) t.client->sendUploadCredit(t, grant);
    return taken;
  }
  if (t.uploadEnded) return 0;  // the end of the body
  t.uploadPaused = true;        // upload() unpauses once the worker sends more
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
  if (t.uploadDropped) return;
  if (!t.streamed || t.uploadEnded) {
    return fail(t, "fetch protocol error: upload data for a fetch without a streamed body",
                "failed");
  }
  if (data.size() > ipc::kFetchMaxChunkBytes || !t.uploadWindow.receive(data.size())) {
    return fail(t, "fetch protocol error: the worker sent upload data beyond its window", "failed");
  }
  // What is held now includes `data`.
  if (t.uploadLength &&
      t.uploadSent + static_cast<curl_off_t>(t.uploadWindow.held()) > *t.uploadLength) {
    return fail(t,
                "fetch to " + t.url + " failed: the body is longer than its Content-Length " +
                    std::to_string(*t.uploadLength),
                "failed");
  }
  if (data.size() > 0) {
    t.upload.emplace_back(reinterpret_cast<const char*>(data.begin()), data.size());
  }
  t.uploadEnded = end;
  if (t.uploadPaused) {
    t.uploadPaused = false;
    updatePause(t);
  }
}

void FetchClient::sendHead(Transfer& t) {
  capnp::MallocMessageBuilder builder;
  auto head = builder.initRoot<ipc::Envelope>().initFetchHead();
  head.setFetchId(t.fetchId);
  head.setStatus(static_cast<uint16_t>(t.status));
  head.setStatusText(t.statusText);
  auto list = head.initHeaders(static_cast<unsigned>(t.responseHeaders.size()));
  for (unsigned i = 0; i < t.responseHeaders.size(); ++i) {
    list[i].setName(t.responseHeaders[i].first);
    list[i].setValue(t.responseHeaders[i].second);
  }
  head.setUrl(t.url);
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
                "fetch to " + t.url + " failed: " +
                    (t.errorBuffer[0] != '\0' ? std::string(t.errorBuffer.data())
                                              : std::string(curl_easy_strerror(result))),
                "failed");
  }
  if (t.redirectPending) return followRedirect(t);
  if (!t.headSent) {
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &t.status);
    sendHead(t);
  }
  sendBody(t, nullptr, 0, true);
  ++outcomes_["completed"];
  finish(t);
}

void FetchClient::followRedirect(Transfer& t) {
  if (t.mode == Redirect::ERROR) {
    return fail(t,
                "fetch to " + t.url + " was redirected (status " + std::to_string(t.status) +
                    ") and its redirect mode is 'error'",
                "failed");
  }
  if (++t.redirects > kMaxRedirects) {
    return fail(
        t,
        "fetch to " + t.url + " failed: more than " + std::to_string(kMaxRedirects) + " redirects",
        "failed");
  }
  char* next = nullptr;
  curl_easy_getinfo(t.easy.get(), CURLINFO_REDIRECT_URL, &next);
  std::string target = next != nullptr ? next : "";
  auto fromOrigin = httpOrigin(t.url);
  auto toOrigin = httpOrigin(target);
  if (!toOrigin) {
    return fail(t,
                "fetch to " + t.url + " was redirected to '" + target +
                    "', which is not an http: or https: URL",
                "failed");
  }
  // The Fetch spec's HTTP-redirect fetch: 303 turns anything but GET/HEAD into GET, 301/302
  // turn POST into GET; either way the body and its headers go.
  if ((t.status == 303 && t.method != "GET" && t.method != "HEAD") ||
      ((t.status == 301 || t.status == 302) && t.method == "POST")) {
    t.method = "GET";
    t.body.clear();
    if (t.streamed) {
      // The rest of a streamed body is not wanted any more: its chunks are dropped.
      t.streamed = false;
      t.uploadDropped = true;
      t.upload.clear();
      t.uploadWindow = CreditReceiver(ipc::kFetchWindowBytes);
    }
    std::erase_if(t.headers, [](const auto& h) {
      return h.first == "content-type" || h.first == "content-encoding" ||
             h.first == "content-language" || h.first == "content-location";
    });
  }
  // Credentials are not handed to another origin.
  if (fromOrigin != toOrigin) {
    std::erase_if(t.headers, [](const auto& h) { return h.first == "authorization"; });
  }
  loop_->remove(t.easy.get());
  byEasy_.erase(t.easy.get());
  t.easy.reset();
  t.url = std::move(target);
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
    if (it->second->parentId == parentId) matching.push_back(it->second.get());
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
