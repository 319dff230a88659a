// Test support for the HTTP/1.1 layer: a server on one end of a socketpair (or on loopback), a
// recording request handler, and a client that parses the answers with llhttp in response mode.
// Loops are pumped until a condition holds or a deadline passes, never for a fixed sleep.
#pragma once

#include <llhttp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "event/dispatcher.h"
#include "supervisor/http/http_server.h"

namespace isolated::http::testing {

struct Response {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool complete = false;
  std::string header(std::string_view name) const {
    for (auto& [n, v] : headers) {
      if (strcasecmp(n.c_str(), std::string(name).c_str()) == 0) return v;
    }
    return {};
  }
};

// Splits a byte stream of responses with llhttp (HTTP_RESPONSE mode).
class ResponseReader {
 public:
  ResponseReader() {
    llhttp_settings_init(&settings_);
    reset();
    settings_.on_message_begin = [](llhttp_t* p) {
      static_cast<ResponseReader*>(p->data)->responses.emplace_back();
      return 0;
    };
    settings_.on_header_field = [](llhttp_t* p, const char* at, size_t n) {
      auto* self = static_cast<ResponseReader*>(p->data);
      auto& r = self->responses.back();
      if (!self->inField_) r.headers.emplace_back();
      self->inField_ = true;
      r.headers.back().first.append(at, n);
      return 0;
    };
    settings_.on_header_value = [](llhttp_t* p, const char* at, size_t n) {
      auto* self = static_cast<ResponseReader*>(p->data);
      self->inField_ = false;
      self->responses.back().headers.back().second.append(at, n);
      return 0;
    };
    settings_.on_headers_complete = [](llhttp_t* p) {
      auto* self = static_cast<ResponseReader*>(p->data);
      self->inField_ = false;
      self->responses.back().status = static_cast<int>(p->status_code);
      return self->responses.size() - 1 == self->headResponse_ ? 1 : 0;
    };
    settings_.on_body = [](llhttp_t* p, const char* at, size_t n) {
      static_cast<ResponseReader*>(p->data)->responses.back().body.append(at, n);
      return 0;
    };
    settings_.on_message_complete = [](llhttp_t* p) {
      auto* self = static_cast<ResponseReader*>(p->data);
      // A 100 Continue is an interim answer: kept, but counted as complete on its own.
      self->responses.back().complete = true;
      return 0;
    };
  }
  ResponseReader(const ResponseReader&) = delete;
  ResponseReader& operator=(const ResponseReader&) = delete;
  void reset() {
    llhttp_init(&parser_, HTTP_RESPONSE, &settings_);
    parser_.data = this;
    responses.clear();
    error = false;
    inField_ = false;
    headResponse_ = SIZE_MAX;
  }
  void feed(const char* data, size_t n) {
    if (llhttp_execute(&parser_, data, n) != HPE_OK) error = true;
  }
  void eof() { llhttp_finish(&parser_); }
  // Response number `index` (from 0) answers HEAD: no body whatever its headers say.
  void expectHeadResponse(size_t index) { headResponse_ = index; }
  size_t completeCount() const {
    size_t n = 0;
    for (auto& r : responses)
      n += r.complete ? 1 : 0;
    return n;
  }
  std::vector<Response> responses;
  bool error = false;

 private:
  llhttp_t parser_{};
  llhttp_settings_t settings_{};
  bool inField_ = false;
  size_t headResponse_ = SIZE_MAX;
};

// One request as the handler saw it, copied out.
struct Seen {
  HttpRequest* request = nullptr;  // null once released or gone
  const void* address = nullptr;   // the request object's address, kept
  std::string method, target;
  int versionMinor = 1;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool bodyEnded = false;
  bool gone = false;
  GoneReason goneReason{};
  // Bytes 8..15 of the peer address: adopt() callers that serve many sockets tag them there.
  uint64_t peerTag = 0;
};

// A handler that records requests. By default it echoes: grants a large credit and, at the end
// of the body (or at once without one), answers 200 with the body and X-Target/X-Method.
class RecordingHandler : public HttpRequestHandler {
 public:
  bool autoAnswer = true;
  size_t initialCredit = 1u << 30;

  struct Observer : HttpRequestObserver {
    RecordingHandler* handler;
    Seen* seen;
    void onBodyData(std::string_view data) override { seen->body.append(data); }
    void onBodyEnd() override {
      seen->bodyEnded = true;
      if (handler->autoAnswer) handler->answer(*seen);
    }
    void onWritable() override { ++handler->writableCalls; }
    void onClientGone(GoneReason reason) override {
      seen->gone = true;
      seen->goneReason = reason;
      seen->request = nullptr;
    }
  };

  void onRequest(HttpRequest& request) override {
    auto seen = std::make_unique<Seen>();
    seen->request = &request;
    seen->address = &request;
    seen->method = request.method();
    seen->target = request.target();
    seen->versionMinor = request.versionMinor();
    std::memcpy(&seen->peerTag, reinterpret_cast<const char*>(&request.peer()) + 8,
                sizeof seen->peerTag);
    for (const HttpHeader& h : request.headers())
      seen->headers.emplace_back(h.name, h.value);
    auto observer = std::make_unique<Observer>();
    observer->handler = this;
    observer->seen = seen.get();
    request.setObserver(observer.get());
    Seen* raw = seen.get();
    seen_.push_back(std::move(seen));
    observers_.push_back(std::move(observer));
    if (initialCredit) request.grantBody(initialCredit);
    if (autoAnswer && !request.hasBody()) answer(*raw);
  }

  void answer(Seen& seen) {
    HttpRequest* r = seen.request;
    if (!r) return;
    HttpHeader headers[] = {{"X-Method", seen.method}, {"X-Target", seen.target}};
    seen.request = nullptr;
    r->respond(200, headers, seen.body);
  }

  std::vector<std::unique_ptr<Seen>>& seen() { return seen_; }
  int writableCalls = 0;

 private:
  std::vector<std::unique_ptr<Seen>> seen_;
  std::vector<std::unique_ptr<Observer>> observers_;
};

// A server on a socketpair; the test holds the client end.
class PairHarness {
 public:
  explicit PairHarness(HttpLimits limits = {}) : limits_(limits) {
    server_ = std::make_unique<HttpServer>(dispatcher, handler, limits_, UniqueFd());
    connect();
  }
  void connect() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) abort();
    client = UniqueFd(fds[0]);
    sockaddr_storage peer{};
    peer.ss_family = AF_UNIX;
    server_->adopt(UniqueFd(fds[1]), peer);
    reader.reset();
    clientEof = false;
  }
  HttpServer& server() { return *server_; }
  void destroyServer() { server_.reset(); }

  // Writes everything (pumping the loop while the socket is full).
  void send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(client.get(), data.data(), data.size(), MSG_NOSIGNAL);
      if (n > 0) {
        data.remove_prefix(static_cast<size_t>(n));
      } else if (n < 0 && errno == EAGAIN) {
        step();
      } else {
        return;
      }
    }
  }
  // Runs the server loop and reads the client end once.
  void step() {
    dispatcher.runReady();
    char buffer[65536];
    ssize_t n = ::recv(client.get(), buffer, sizeof buffer, MSG_DONTWAIT);
    if (n > 0) {
      reader.feed(buffer, static_cast<size_t>(n));
    } else if (n == 0 && !clientEof) {
      clientEof = true;
      reader.eof();
    } else if (n < 0 && errno == ECONNRESET) {
      clientEof = true;
    }
    if (n <= 0) {
      pollfd p{client.get(), POLLIN, 0};
      ::poll(&p, 1, 1);
    }
  }
  // Pumps until `done` or 5 s; returns whether `done` held.
  bool pumpUntil(const std::function<bool()>& done, int timeoutMs = 5000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      step();
    }
    return true;
  }
  bool waitResponses(size_t n) {
    return pumpUntil([&] { return reader.completeCount() >= n; });
  }
  bool waitClosed() {
    return pumpUntil([&] { return clientEof; });
  }

  event::Dispatcher dispatcher;
  RecordingHandler handler;
  UniqueFd client;
  ResponseReader reader;
  bool clientEof = false;

 private:
  HttpLimits limits_;
  std::unique_ptr<HttpServer> server_;
};

}  // namespace isolated::http::testing
