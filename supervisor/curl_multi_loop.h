// libcurl's multi-socket API driven by the supervisor's libevent loop: curl says which sockets
// to watch (CURLMOPT_SOCKETFUNCTION) and when to wake it (CURLMOPT_TIMERFUNCTION); libevent
// events, owned here, call curl_multi_socket_action, and finished transfers are reported to
// the DoneHandler. Also the owning handles for curl objects.
//
// Threading: loop thread only. Reentrancy: add() and remove() must not be called from inside
// a libcurl callback (write, header, open-socket), which libcurl forbids; the DoneHandler is
// not such a callback and may remove and add handles, including the finished one.
// Lifetime: every easy handle added must be removed before the loop is destroyed; the loop
// must be destroyed before its event_base.
#pragma once

#include <curl/curl.h>
#include <event2/event.h>

#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include "event/dispatcher.h"

namespace isolated::supervisor {

struct CurlEasyDeleter {
  void operator()(CURL* easy) const { curl_easy_cleanup(easy); }
};
struct CurlMultiDeleter {
  void operator()(CURLM* multi) const { curl_multi_cleanup(multi); }
};
struct CurlSlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using CurlEasyPtr = std::unique_ptr<CURL, CurlEasyDeleter>;
using CurlMultiPtr = std::unique_ptr<CURLM, CurlMultiDeleter>;
using CurlSlistPtr = std::unique_ptr<curl_slist, CurlSlistDeleter>;

// libcurl's process-wide initialisation, reference-counted by libcurl itself; held by every
// owner of curl handles so that it spans their lifetime.
class CurlGlobal {
 public:
  CurlGlobal();
  ~CurlGlobal() { curl_global_cleanup(); }
  CurlGlobal(const CurlGlobal&) = delete;
  CurlGlobal& operator=(const CurlGlobal&) = delete;
};

class CurlMultiLoop {
 public:
  using DoneHandler = std::function<void(CURL* easy, CURLcode result)>;

  CurlMultiLoop(event_base* base, DoneHandler onDone);
  ~CurlMultiLoop();
  CurlMultiLoop(const CurlMultiLoop&) = delete;
  CurlMultiLoop& operator=(const CurlMultiLoop&) = delete;

  // Starts driving `easy`; throws std::runtime_error if libcurl refuses.
  void add(CURL* easy);
  // Stops driving `easy` (finished or not). The caller still owns and frees it.
  void remove(CURL* easy);

 private:
  static int onSocket(CURL* easy, curl_socket_t fd, int what, void* self, void* socketData);
  static int onTimer(CURLM* multi, long timeoutMs, void* self);
  void action(curl_socket_t fd, int flags);
  // Hands every finished transfer to the DoneHandler.
  void reportDone();

  CurlGlobal global_;
  event::Dispatcher loop_;  // borrowed base
  DoneHandler onDone_;
  CurlMultiPtr multi_;
  event::Timer timer_;
  std::unordered_map<curl_socket_t, std::unique_ptr<event::FileEvent>> sockets_;
  // Events libcurl is done with, freed at the next action() (never inside their own callback).
  std::vector<std::unique_ptr<event::FileEvent>> retired_;
};

}  // namespace isolated::supervisor
