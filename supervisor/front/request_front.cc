// The single-loop front, and the choice between it and ThreadedFront: see request_front.h.
#include "supervisor/front/request_front.h"

#include "supervisor/front/threaded_front.h"
#include "supervisor/http/http_server.h"

namespace isolated::front {

namespace {

// --io-threads 1: the layer's HttpServer on the supervisor's loop.
class LocalFront final : public RequestFront, private http::HttpRequestHandler {
 public:
  LocalFront(event::Dispatcher& dispatcher, FrontOwner& owner, RejectionShaper shape,
             const http::HttpLimits& limits, const std::string& host, uint16_t port)
      : owner_(owner),
        shape_(shape),
        limits_(limits),
        server_(dispatcher, *this, limits_, http::HttpServer::listenTcp(host, port, false)) {}

  uint16_t port() const override { return server_.port(); }
  FrontStats stats() const override {
    return {1, server_.openConnections(), server_.acceptedConnections()};
  }
  void stopListening() override { server_.stopListening(); }
  void listen(const std::string& host, uint16_t port) override {
    server_.listen(http::HttpServer::listenTcp(host, port, false));
  }
  void drain() override { server_.drain(); }

 private:
  void onRequest(http::HttpRequest& request) override { owner_.onClientRequest(request); }
  void onRejected(http::HttpRejection& rejection) override {
    shape_(rejection);
    owner_.onRefused(rejection.status, rejection.why, rejection.peer);
  }

  FrontOwner& owner_;
  RejectionShaper shape_;
  http::HttpLimits limits_;
  http::HttpServer server_;
};

}  // namespace

std::unique_ptr<RequestFront> makeRequestFront(event::Dispatcher& dispatcher, FrontOwner& owner,
                                               RejectionShaper shape,
                                               const http::HttpLimits& limits,
                                               const std::string& host, uint16_t port,
                                               uint32_t threads) {
  if (threads <= 1)
    return std::make_unique<LocalFront>(dispatcher, owner, shape, limits, host, port);
  return std::make_unique<ThreadedFront>(dispatcher, owner, shape, limits, host, port, threads);
}

}  // namespace isolated::front
