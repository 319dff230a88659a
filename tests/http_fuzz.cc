// libFuzzer target for the HTTP/1.1 connection layer: the input is a client's byte stream,
// written to a socketpair in pieces whose sizes come from the input itself, while a handler
// answers in the ways the supervisor will (whole answers, streamed ones, early answers, small
// credit grants). Crashes, sanitizer reports and a connection that never closes are findings.
// Built with -DISOLATED_FUZZ_HTTP=ON (clang); otherwise http_fuzz_replay runs the same function
// over the seed corpus as a CTest test.
#include <poll.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "event/dispatcher.h"
#include "supervisor/http/http_server.h"

namespace isolated::http {
namespace {

class FuzzHandler : public HttpRequestHandler {
 public:
  struct Held : HttpRequestObserver {
    HttpRequest* request;
    size_t received = 0;
    int style;
    void onBodyData(std::string_view data) override {
      received += data.size();
      request->grantBody(data.size());
    }
    void onBodyEnd() override { answer(); }
    void onClientGone(GoneReason) override { request = nullptr; }
    void answer() {
      if (!request) return;
      HttpRequest* r = std::exchange(request, nullptr);
      HttpHeader h[] = {{"X-Style", "fuzz"}};
      if (style == 0) {
        r->respond(200, h, "ok");
      } else if (style == 4) {
        // A script that declares a shorter length than it writes: aborted.
        r->startResponse(200, h, 3);
        r->write("chunk");
        r->end();
      } else {
        r->startResponse(style == 1 ? 200 : 204, h, std::nullopt);
        r->write("chunk");
        r->end();
      }
    }
  };

  void onRequest(HttpRequest& request) override {
    auto held = std::make_unique<Held>();
    held->request = &request;
    held->style = static_cast<int>(count_++ % 5);
    request.setObserver(held.get());
    // Style 3 answers before reading any body; the others read it under small credit.
    if (held->style == 3 || !request.hasBody()) {
      held->answer();
    } else {
      request.grantBody(7);
    }
    held_.push_back(std::move(held));
  }

 private:
  size_t count_ = 0;
  std::vector<std::unique_ptr<Held>> held_;
};

}  // namespace
}  // namespace isolated::http

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace isolated;
  using namespace isolated::http;
  isolated::event::Dispatcher dispatcher;
  FuzzHandler handler;
  HttpLimits limits;
  limits.maxHeaderBytes = 2048;
  limits.readBufferBytes = 4096;
  limits.maxTargetBytes = 512;
  limits.maxHeaderCount = 16;
  limits.maxBodyBytes = 8192;
  limits.maxPipelined = 4;
  limits.headerTimeoutMs = limits.idleTimeoutMs = limits.bodyTimeoutMs = 200;
  limits.lingerMs = 50;
  HttpServer server(dispatcher, handler, limits, UniqueFd());
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) abort();
  UniqueFd client(fds[0]);
  sockaddr_storage peer{};
  peer.ss_family = AF_UNIX;
  server.adopt(UniqueFd(fds[1]), peer);
  // The first byte picks the piece size: 1..16 bytes, or everything at once.
  size_t piece = size == 0 ? 1 : (data[0] % 17 == 0 ? size : data[0] % 17);
  size_t sent = 0;
  char sink[8192];
  while (sent < size) {
    ssize_t n = ::send(client.get(), data + sent, std::min(piece, size - sent), MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
    dispatcher.runReady();
    while (::recv(client.get(), sink, sizeof sink, MSG_DONTWAIT) > 0) {
    }
  }
  ::shutdown(client.get(), SHUT_WR);
  // Everything must end: answered and closed, or timed out (within the short limits above).
  for (int i = 0; i < 2000 && server.connectionCount() > 0; ++i) {
    dispatcher.runReady();
    while (::recv(client.get(), sink, sizeof sink, MSG_DONTWAIT) > 0) {
    }
    pollfd p{client.get(), POLLIN, 0};
    ::poll(&p, 1, 1);
  }
  if (server.connectionCount() != 0) abort();
  return 0;
}
