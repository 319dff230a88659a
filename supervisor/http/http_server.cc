// Accepting and owning connections: see http_server.h.
#include "supervisor/http/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace isolated::http {
namespace {

// Connections accepted per readable event before other events get a turn.
constexpr int kAcceptBurst = 64;
constexpr uint32_t kAcceptRetryMs = 1000;

}  // namespace

UniqueFd HttpServer::listenTcp(const std::string& host, uint16_t port, bool reusePort,
                               int backlog) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string service = std::to_string(port);
  std::string where =
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + service;
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    throw std::runtime_error("cannot resolve " + where + ": " + gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> list(found, freeaddrinfo);
  int lastErrno = 0;
  for (addrinfo* a = found; a; a = a->ai_next) {
    UniqueFd fd(::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) {
      lastErrno = errno;
      continue;
    }
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reusePort) ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (::bind(fd.get(), a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd.get(), backlog) == 0) {
      return fd;
    }
    lastErrno = errno;
  }
  throw std::runtime_error("cannot listen on " + where + ": " + std::strerror(lastErrno));
}

HttpServer::HttpServer(event::Dispatcher& dispatcher, HttpRequestHandler& handler,
                       const HttpLimits& limits, UniqueFd listener)
    : limits_(limits),
      context_{dispatcher, limits_, handler, {}, 1, 1, false, {}},
      listener_(std::move(listener)),
      reaper_(dispatcher, [this] { reap(); }),
      acceptRetry_(dispatcher, [this] { resumeAccepting(); }) {
  context_.onClosed = [this](HttpConnection* c) { connectionClosed(c); };
  listen(std::move(listener_));
}

void HttpServer::listen(UniqueFd listener) {
  if (draining_) return;
  stopListening();
  listener_ = std::move(listener);
  if (!listener_) return;
  int flags = ::fcntl(listener_.get(), F_GETFL);
  ::fcntl(listener_.get(), F_SETFL, flags | O_NONBLOCK);
  acceptEvent_ = std::make_unique<event::FileEvent>(context_.dispatcher, listener_.get(), EV_READ,
                                                    false, [this](short) { onAcceptable(); });
  acceptPaused_ = false;
  if (atCap()) pauseAccepting(false);
}

void HttpServer::shareConnectionCap(SharedConnectionCap& cap, std::function<void()> onSlotFreed) {
  sharedCap_ = &cap;
  onSlotFreed_ = std::move(onSlotFreed);
  if (atCap()) pauseAccepting(false);
}

bool HttpServer::atCap() const {
  if (sharedCap_ != nullptr) return sharedCap_->full();
  return limits_.maxConnections && connections_.size() >= limits_.maxConnections;
}

void HttpServer::stopListening() {
  acceptRetry_.cancel();
  acceptEvent_.reset();
  listener_.reset();
  acceptPaused_ = false;
}

HttpServer::~HttpServer() {
  acceptEvent_.reset();
  // The slots of a shared cap go back without waking anyone: the front is closing.
  if (sharedCap_ != nullptr) {
    for (size_t i = 0; i < connections_.size(); ++i)
      sharedCap_->give();
  }
  // Each connection's destructor tells the owners of its requests; connectionClosed() then finds
  // nothing to move.
  auto open = std::move(connections_);
  connections_.clear();
  open.clear();
  closed_.clear();
}

uint16_t HttpServer::port() const {
  return listener_ ? boundPort(listener_.get()) : 0;
}

uint16_t HttpServer::boundPort(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return 0;
  if (address.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in&>(address).sin_port);
  }
  if (address.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6&>(address).sin6_port);
  }
  return 0;
}

void HttpServer::adopt(UniqueFd connection, const sockaddr_storage& peer) {
  int flags = ::fcntl(connection.get(), F_GETFL);
  if (!(flags & O_NONBLOCK)) ::fcntl(connection.get(), F_SETFL, flags | O_NONBLOCK);
  if (sharedCap_ != nullptr) sharedCap_->takeEvenAtCap();
  addConnection(std::move(connection), peer);
}

void HttpServer::addConnection(UniqueFd connection, const sockaddr_storage& peer) {
  auto c = std::make_unique<HttpConnection>(context_, std::move(connection), peer);
  HttpConnection* raw = c.get();
  connections_.emplace(raw, std::move(c));
  // One writer (this loop): plain stores, no read-modify-write.
  accepted_.store(accepted_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  open_.store(connections_.size(), std::memory_order_relaxed);
  if (atCap()) pauseAccepting(false);
}

void HttpServer::onAcceptable() {
  for (int i = 0; i < kAcceptBurst && !acceptPaused_; ++i) {
    // With a shared cap the slot is taken before the accept: another loop may take the last one
    // between a look and an accept.
    if (sharedCap_ != nullptr && !sharedCap_->take()) {
      pauseAccepting(false);
      return;
    }
    sockaddr_storage peer{};
    socklen_t length = sizeof peer;
    int fd = ::accept4(listener_.get(), reinterpret_cast<sockaddr*>(&peer), &length,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int error = errno;
      if (sharedCap_ != nullptr && sharedCap_->give() && onSlotFreed_) onSlotFreed_();
      errno = error;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: the pending connection stays queued; no spin on a level event.
        pauseAccepting(true);
      }
      // EAGAIN: none left; ECONNABORTED and the like: that one is gone, the loop retries.
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      continue;
    }
    if (peer.ss_family == AF_INET || peer.ss_family == AF_INET6) {
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    addConnection(UniqueFd(fd), peer);
  }
}

void HttpServer::pauseAccepting(bool retryLater) {
  if (!acceptEvent_) return;
  acceptPaused_ = true;
  acceptEvent_->disable();
  if (retryLater) acceptRetry_.arm(kAcceptRetryMs);
}

void HttpServer::resumeAccepting() {
  if (!acceptEvent_ || draining_ || !acceptPaused_) return;
  if (atCap()) return;
  acceptPaused_ = false;
  acceptRetry_.cancel();
  acceptEvent_->enable();
}

void HttpServer::drain(std::function<void()> onDrained) {
  draining_ = true;
  context_.draining = true;
  onDrained_ = std::move(onDrained);
  stopListening();
  std::vector<HttpConnection*> open;
  for (auto& [raw, connection] : connections_)
    open.push_back(raw);
  for (HttpConnection* c : open)
    c->drain();
  reaper_.arm(0);
}

void HttpServer::connectionClosed(HttpConnection* connection) {
  auto it = connections_.find(connection);
  if (it == connections_.end()) return;
  closed_.push_back(std::move(it->second));
  connections_.erase(it);
  open_.store(connections_.size(), std::memory_order_relaxed);
  reaper_.arm(0);
  if (sharedCap_ != nullptr && sharedCap_->give() && onSlotFreed_) onSlotFreed_();
  resumeAccepting();
}

void HttpServer::reap() {
  closed_.clear();
  if (draining_ && connections_.empty() && onDrained_) std::exchange(onDrained_, nullptr)();
}

}  // namespace isolated::http
