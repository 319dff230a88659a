// The static-reply server bench/http_layer.sh measures: "Hello, world!\n" with one
// Content-Type header, answered inside the request callback, either by the new HTTP/1.1 layer
// (supervisor/http/) or by evhttp with the write-at-once trick the supervisor uses today
// (supervisor/http_reply.cc's sendReplyNow). Prints the port it listens on, then serves until
// killed.
//   http_layer_bench layer|evhttp
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <netinet/in.h>

#include <cstdio>
#include <cstring>
#include <string_view>

#include "event/dispatcher.h"
#include "supervisor/http/http_server.h"

namespace {

constexpr std::string_view kBody = "Hello, world!\n";

class StaticReply : public isolated::http::HttpRequestHandler {
 public:
  void onRequest(isolated::http::HttpRequest& request) override {
    static constexpr isolated::http::HttpHeader kHeaders[] = {
        {"Content-Type", "text/plain; charset=utf-8"}};
    request.respond(200, kHeaders, kBody);
  }
};

void evhttpReply(evhttp_request* request, void*) {
  evhttp_add_header(evhttp_request_get_output_headers(request), "Content-Type",
                    "text/plain; charset=utf-8");
  evbuffer_add(evhttp_request_get_output_buffer(request), kBody.data(), kBody.size());
  evhttp_connection* connection = evhttp_request_get_connection(request);
  bufferevent* bev = evhttp_connection_get_bufferevent(connection);
  evhttp_send_reply(request, 200, "OK", nullptr);
  evbuffer* out = bufferevent_get_output(bev);
  if (evbuffer_write(out, bufferevent_getfd(bev)) > 0 && evbuffer_get_length(out) == 0) {
    bufferevent_trigger(bev, EV_WRITE, BEV_TRIG_DEFER_CALLBACKS);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 || (std::strcmp(argv[1], "layer") != 0 && std::strcmp(argv[1], "evhttp") != 0)) {
    std::fprintf(stderr, "usage: %s layer|evhttp\n", argv[0]);
    return 2;
  }
  isolated::event::Dispatcher dispatcher;
  if (std::strcmp(argv[1], "layer") == 0) {
    StaticReply handler;
    isolated::http::HttpLimits limits;
    isolated::http::HttpServer server(dispatcher, handler, limits,
                                      isolated::http::HttpServer::listenTcp("127.0.0.1", 0, false));
    std::printf("%u\n", server.port());
    std::fflush(stdout);
    dispatcher.run();
    return 0;
  }
  isolated::EvhttpPtr http(evhttp_new(dispatcher.base()));
  evhttp_bound_socket* bound = evhttp_bind_socket_with_handle(http.get(), "127.0.0.1", 0);
  if (!bound) return 1;
  evhttp_set_gencb(http.get(), evhttpReply, nullptr);
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  getsockname(evhttp_bound_socket_get_fd(bound), reinterpret_cast<sockaddr*>(&address), &length);
  std::printf("%u\n", ntohs(reinterpret_cast<sockaddr_in&>(address).sin_port));
  std::fflush(stdout);
  dispatcher.run();
  return 0;
}
