// Outbound fetch() for the workers: performs each FetchStart with libcurl on the supervisor's
// loop (CurlMultiLoop) and answers with FetchHead, FetchBody and FetchFailed messages through
// the Send function, following ipc/protocol.h ("Outbound fetch").
//
//  - Schemes: http and https only, for the first URL and for every redirect.
//  - TLS: the system CA store (libcurl's default), or `caFile` when set.
//  - Redirects are followed here, not by libcurl, so that every hop goes through the same
//    checks: `follow` (at most kMaxRedirects, with the Fetch spec's method and body rewrites),
//    `manual` (the 3xx is the response) and `error` (the fetch fails).
//  - --fetch-deny: checked on the address libcurl is about to connect to (its open-socket
//    callback), after DNS resolution and on every redirect hop and connection, so neither DNS
//    tricks nor redirects bypass it. Proxies from the environment are never used.
//  - Flow control: a transfer whose worker has kFetchWindowBytes uncredited is paused.
//  - Streamed request bodies (FetchStart.bodyFollows): FetchUpload chunks are buffered here,
//    at most kFetchWindowBytes per fetch, and handed to libcurl from its read callback; each
//    byte libcurl takes is credited back (FetchUploadCredit). With nothing buffered the upload
//    side is paused (CURL_READFUNC_PAUSE) until the next chunk. Without a Content-Length from
//    the script the body goes out with chunked transfer encoding. A redirect that would send
//    the body again (307, 308, or 301/302 of a non-POST) fails the fetch: a stream cannot be
//    replayed.
//  - Limits: URL, header and body sizes (ipc/protocol.h); a connect timeout and a total
//    timeout per fetch.
//
// The parent-request bookkeeping (subrequest limit) is the Supervisor's; this class only
// knows which worker and parent each fetch belongs to, to cancel them together.
// Threading: loop thread only. Lifetime: owned by the Supervisor, destroyed before the loop.
#pragma once

#include <capnp/message.h>
#include <event2/event.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include "common/cidr_set.h"
#include "common/logger.h"
#include "ipc/messages.capnp.h"
#include "supervisor/curl_multi_loop.h"

namespace isolated::supervisor {

struct FetchOptions {
  CidrSet deny;
  // PEM file of trusted CAs; empty for the system store.
  std::string caFile;
  std::chrono::milliseconds connectTimeout{10000};
  // The longest a fetch may take in all, paused time included.
  std::chrono::milliseconds totalTimeout{30000};
};

class FetchClient {
 public:
  static constexpr int kMaxRedirects = 20;  // the Fetch spec's limit
  using Send = std::function<void(uint32_t workerId, capnp::MessageBuilder& message)>;

  FetchClient(event_base* base, FetchOptions options, Send send, Logger& logger);
  ~FetchClient();
  FetchClient(const FetchClient&) = delete;
  FetchClient& operator=(const FetchClient&) = delete;

  // Starts the fetch, or answers FetchFailed at once when the request is not acceptable.
  void start(uint32_t workerId, ipc::FetchStart::Reader request);
  // Answers FetchFailed for a fetch the supervisor refuses before starting it.
  void refuse(uint32_t workerId, uint64_t fetchId, const std::string& message);
  void credit(uint32_t workerId, uint64_t fetchId, uint32_t bytes);
  // A piece of a streamed request body (FetchUpload). A worker that sends one for a fetch
  // without bodyFollows, after the end, or beyond its window gets the fetch failed.
  void upload(uint32_t workerId, uint64_t fetchId, capnp::Data::Reader data, bool end);
  // Stops the fetch without a word to the worker (it asked).
  void abort(uint32_t workerId, uint64_t fetchId);
  // Fails every fetch made for `parentId` with `message`.
  void failParent(uint32_t workerId, uint64_t parentId, const std::string& message);
  // Drops every fetch of a worker that is gone.
  void dropWorker(uint32_t workerId);

  size_t activeCount(uint32_t workerId) const;
  size_t activeCount() const { return transfers_.size(); }
  // Finished fetches by outcome: completed (the whole body sent), failed (network, TLS,
  // redirect mode or limits), denied (--fetch-deny), refused (before starting: bad input,
  // subrequest limit), cancelled (parent request cancelled), aborted (by the worker, or the
  // worker is gone).
  const std::map<std::string, uint64_t>& outcomes() const { return outcomes_; }

 private:
  struct Transfer;
  using Key = std::pair<uint32_t, uint64_t>;  // worker id, fetch id

  // Creates the easy handle for the transfer's current method/URL and adds it to the loop.
  void launch(Transfer& transfer);
  void onDone(CURL* easy, CURLcode result);
  void followRedirect(Transfer& transfer);
  void sendHead(Transfer& transfer);
  void sendBody(Transfer& transfer, const char* data, size_t size, bool end);
  void fail(Transfer& transfer, const std::string& message, const char* outcome);
  void sendFailed(uint32_t workerId, uint64_t fetchId, const std::string& message);
  void sendUploadCredit(Transfer& transfer, size_t bytes);
  // Lets libcurl run the directions of the transfer that have something to do.
  void updatePause(Transfer& transfer);
  // Removes the transfer (and its easy handle) from everything.
  void finish(Transfer& transfer);

  static size_t onHeader(char* data, size_t size, size_t count, void* transfer);
  static size_t onWrite(char* data, size_t size, size_t count, void* transfer);
  static size_t onRead(char* buffer, size_t size, size_t count, void* transfer);
  static curl_socket_t onOpenSocket(void* transfer, curlsocktype purpose, curl_sockaddr* address);

  FetchOptions options_;
  Send send_;
  Logger& logger_;
  // Declared before the transfers so that it outlives them; the destructor removes every
  // transfer's handle from it first.
  std::unique_ptr<CurlMultiLoop> loop_;
  std::map<Key, std::unique_ptr<Transfer>> transfers_;
  std::unordered_map<CURL*, Transfer*> byEasy_;
  std::map<std::string, uint64_t> outcomes_;
};

}  // namespace isolated::supervisor
