// The libcurl multi-socket <-> libevent glue.
#include "supervisor/curl_multi_loop.h"

#include <stdexcept>
#include <string>
#include <vector>

namespace isolated::supervisor {

CurlGlobal::CurlGlobal() {
  if (CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT); rc != CURLE_OK) {
    throw std::runtime_error(std::string("curl_global_init: ") + curl_easy_strerror(rc));
  }
}

CurlMultiLoop::CurlMultiLoop(event_base* base, DoneHandler onDone)
    : base_(base), onDone_(std::move(onDone)), multi_(curl_multi_init()) {
  if (!multi_) throw std::runtime_error("curl_multi_init failed");
  timer_.reset(event_new(base_, -1, 0, &CurlMultiLoop::onTimerEvent, this));
  curl_multi_setopt(multi_.get(), CURLMOPT_SOCKETFUNCTION, &CurlMultiLoop::onSocket);
  curl_multi_setopt(multi_.get(), CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_.get(), CURLMOPT_TIMERFUNCTION, &CurlMultiLoop::onTimer);
  curl_multi_setopt(multi_.get(), CURLMOPT_TIMERDATA, this);
}

CurlMultiLoop::~CurlMultiLoop() {
  // curl_multi_cleanup may still report sockets to close; the events go first.
  sockets_.clear();
  timer_.reset();
}

void CurlMultiLoop::add(CURL* easy) {
  if (CURLMcode rc = curl_multi_add_handle(multi_.get(), easy); rc != CURLM_OK) {
    throw std::runtime_error(std::string("curl_multi_add_handle: ") + curl_multi_strerror(rc));
  }
}

void CurlMultiLoop::remove(CURL* easy) {
  curl_multi_remove_handle(multi_.get(), easy);
}

int CurlMultiLoop::onSocket(CURL*, curl_socket_t fd, int what, void* self, void*) {
  auto* loop = static_cast<CurlMultiLoop*>(self);
  if (what == CURL_POLL_REMOVE) {
    loop->sockets_.erase(fd);
    return 0;
  }
  short events = EV_PERSIST;
  if (what & CURL_POLL_IN) events |= EV_READ;
  if (what & CURL_POLL_OUT) events |= EV_WRITE;
  // A fresh event each time the interest changes: simpler than event_del + event_assign, and
  // libevent allows freeing an event from inside its own callback.
  EventPtr ev(event_new(loop->base_, fd, events, &CurlMultiLoop::onSocketEvent, loop));
  event_add(ev.get(), nullptr);
  loop->sockets_[fd] = std::move(ev);
  return 0;
}

int CurlMultiLoop::onTimer(CURLM*, long timeoutMs, void* self) {
  auto* loop = static_cast<CurlMultiLoop*>(self);
  if (timeoutMs < 0) {
    event_del(loop->timer_.get());
    return 0;
  }
  // libcurl forbids calling curl_multi_socket_action from here; the loop calls it instead.
  timeval tv = millisToTimeval(timeoutMs);
  event_add(loop->timer_.get(), &tv);
  return 0;
}

void CurlMultiLoop::onSocketEvent(evutil_socket_t fd, short events, void* self) {
  int flags = 0;
  if (events & EV_READ) flags |= CURL_CSELECT_IN;
  if (events & EV_WRITE) flags |= CURL_CSELECT_OUT;
  static_cast<CurlMultiLoop*>(self)->action(fd, flags);
}

void CurlMultiLoop::onTimerEvent(evutil_socket_t, short, void* self) {
  static_cast<CurlMultiLoop*>(self)->action(CURL_SOCKET_TIMEOUT, 0);
}

void CurlMultiLoop::action(curl_socket_t fd, int flags) {
  int running = 0;
  curl_multi_socket_action(multi_.get(), fd, flags, &running);
  reportDone();
}

void CurlMultiLoop::reportDone() {
  // Collected first: the handler removes handles, which must not happen while libcurl walks
  // its message queue.
  std::vector<std::pair<CURL*, CURLcode>> done;
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_.get(), &left)) {
    if (msg->msg == CURLMSG_DONE) done.emplace_back(msg->easy_handle, msg->data.result);
  }
  for (auto [easy, result] : done)
    onDone_(easy, result);
}

}  // namespace isolated::supervisor
