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
    : loop_(base),
      onDone_(std::move(onDone)),
      multi_(curl_multi_init()),
      timer_(loop_, [this] { action(CURL_SOCKET_TIMEOUT, 0); }) {
  if (!multi_) throw std::runtime_error("curl_multi_init failed");
  curl_multi_setopt(multi_.get(), CURLMOPT_SOCKETFUNCTION, &CurlMultiLoop::onSocket);
  curl_multi_setopt(multi_.get(), CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_.get(), CURLMOPT_TIMERFUNCTION, &CurlMultiLoop::onTimer);
  curl_multi_setopt(multi_.get(), CURLMOPT_TIMERDATA, this);
}

CurlMultiLoop::~CurlMultiLoop() {
  // curl_multi_cleanup may still report sockets to close; the events go first, and the cleanup
  // runs while the maps it may touch are alive.
  sockets_.clear();
  retired_.clear();
  timer_.cancel();
  multi_.reset();
  sockets_.clear();
  retired_.clear();
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
  // The old event stops now and is freed later (this may run inside its callback).
  if (auto it = loop->sockets_.find(fd); it != loop->sockets_.end()) {
    it->second->disable();
    loop->retired_.push_back(std::move(it->second));
    loop->sockets_.erase(it);
  }
  if (what == CURL_POLL_REMOVE) return 0;
  short events = 0;
  if (what & CURL_POLL_IN) events |= EV_READ;
  if (what & CURL_POLL_OUT) events |= EV_WRITE;
  // A fresh event each time the interest changes: simpler than event_del + event_assign.
  loop->sockets_[fd] =
      std::make_unique<event::FileEvent>(loop->loop_, fd, events, false, [loop, fd](short ready) {
        int flags = 0;
        if (ready & EV_READ) flags |= CURL_CSELECT_IN;
        if (ready & EV_WRITE) flags |= CURL_CSELECT_OUT;
        loop->action(fd, flags);
      });
  return 0;
}

int CurlMultiLoop::onTimer(CURLM*, long timeoutMs, void* self) {
  auto* loop = static_cast<CurlMultiLoop*>(self);
  if (timeoutMs < 0) {
    loop->timer_.cancel();
    return 0;
  }
  // libcurl forbids calling curl_multi_socket_action from here; the loop calls it instead.
  loop->timer_.arm(static_cast<uint32_t>(timeoutMs));
  return 0;
}

void CurlMultiLoop::action(curl_socket_t fd, int flags) {
  // Events retired before this callback began are not running: freed now.
  retired_.clear();
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
