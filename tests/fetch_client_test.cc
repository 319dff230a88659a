// The supervisor's FetchClient in-process on its own event loop, against tests/fetch_origin.py:
// the credit window really holds a transfer back, and what a worker sends is checked before
// anything reaches libcurl (header injection, methods, schemes, ids), and a streamed upload
// beyond its window or without bodyFollows fails its fetch.
#include "supervisor/fetch_client.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "common/event_handles.h"
#include "common/logger.h"
#include "ipc/protocol.h"
#include "origin_process.h"

namespace isolated::supervisor {
namespace {

using namespace std::chrono_literals;
using test::Origin;

// What the client sent to worker 1.
struct Received {
  bool head = false;
  uint16_t status = 0;
  size_t bodyBytes = 0;
  bool end = false;
  std::string failure;
  bool failed = false;
};

class FetchClientTest : public ::testing::Test {
 protected:
  FetchClientTest()
      : base_(event_base_new()),
        logger_(LogLevel::kError, LogFormat::kText, STDERR_FILENO),
        client_(
            base_.get(), FetchOptions{},
            [this](uint32_t, capnp::MessageBuilder& message) {
              record(message.getRoot<ipc::Envelope>().asReader());
            },
            logger_) {}

  void record(ipc::Envelope::Reader message) {
    switch (message.which()) {
      case ipc::Envelope::FETCH_HEAD:
        received_.head = true;
        received_.status = message.getFetchHead().getStatus();
        break;
      case ipc::Envelope::FETCH_BODY:
        received_.bodyBytes += message.getFetchBody().getData().size();
        received_.end |= message.getFetchBody().getEnd();
        uncredited_ += message.getFetchBody().getData().size();
        maxUncredited_ = std::max(maxUncredited_, uncredited_);
        break;
      case ipc::Envelope::FETCH_UPLOAD_CREDIT:
        uploadCredited_ += message.getFetchUploadCredit().getBytes();
        break;
      case ipc::Envelope::FETCH_FAILED:
        received_.failed = true;
        received_.failure = message.getFetchFailed().getMessage();
        break;
      default:
        break;
    }
  }

  // Runs the loop until `done` or the deadline; returns `done()`.
  bool runUntil(const std::function<bool()>& done, std::chrono::milliseconds deadline = 10s) {
    auto until = std::chrono::steady_clock::now() + deadline;
    while (!done() && std::chrono::steady_clock::now() < until) {
      timeval slice = millisToTimeval(20);
      event_base_loopexit(base_.get(), &slice);
      event_base_dispatch(base_.get());
    }
    return done();
  }

  void start(uint64_t id, const std::string& url, const std::string& method = "GET",
             std::vector<std::pair<std::string, std::string>> headers = {},
             bool bodyFollows = false) {
    capnp::MallocMessageBuilder message;
    auto fetch = message.initRoot<ipc::FetchStart>();
    fetch.setBodyFollows(bodyFollows);
    fetch.setFetchId(id);
    fetch.setParentId(1);
    fetch.setMethod(method);
    fetch.setUrl(url);
    auto list = fetch.initHeaders(static_cast<unsigned>(headers.size()));
    for (unsigned i = 0; i < headers.size(); ++i) {
      list[i].setName(headers[i].first);
      list[i].setValue(headers[i].second);
    }
    client_.start(1, fetch.asReader());
  }

  EventBasePtr base_;
  Logger logger_;
  FetchClient client_;
  Received received_;
  size_t uncredited_ = 0;
  size_t maxUncredited_ = 0;
  size_t uploadCredited_ = 0;
};

TEST_F(FetchClientTest, UploadsBeyondTheWindowOrUnannouncedFailTheFetch) {
  Origin origin;
  ASSERT_NE(origin.port(), 0);
  std::string chunk(ipc::kFetchMaxChunkBytes, 'x');
  auto data = kj::arrayPtr(reinterpret_cast<const kj::byte*>(chunk.data()), chunk.size());
  // The origin reads nothing, so libcurl takes at most its buffers' worth; a worker that keeps
  // sending without credit overruns the window and its fetch fails.
  start(1, origin.url("/hold-upload"), "POST", {}, true);
  size_t sent = 0;
  for (int i = 0; i < 1024 && !received_.failed; ++i) {
    runUntil([] { return false; }, 1ms);
    client_.upload(1, 1, data, false);
    sent += chunk.size();
  }
  EXPECT_TRUE(received_.failed);
  EXPECT_NE(received_.failure.find("beyond its window"), std::string::npos) << received_.failure;
  EXPECT_GT(sent, ipc::kFetchWindowBytes);
  EXPECT_LE(sent - uploadCredited_, ipc::kFetchWindowBytes + chunk.size());
  EXPECT_EQ(client_.activeCount(), 0u);

  // Upload data for a fetch that announced no streamed body.
  received_ = {};
  start(2, origin.url("/stall-head"), "POST");
  client_.upload(1, 2, data, false);
  EXPECT_TRUE(received_.failed);
  EXPECT_NE(received_.failure.find("without a streamed body"), std::string::npos)
      << received_.failure;
  // A chunk larger than kFetchMaxChunkBytes.
  received_ = {};
  start(3, origin.url("/hold-upload"), "POST", {}, true);
  std::string big(ipc::kFetchMaxChunkBytes + 1, 'x');
  client_.upload(1, 3, kj::arrayPtr(reinterpret_cast<const kj::byte*>(big.data()), big.size()),
                 false);
  EXPECT_TRUE(received_.failed);
  // Data for ids the client does not hold is ignored.
  received_ = {};
  client_.upload(1, 99, data, true);
  EXPECT_FALSE(received_.failed);
}

TEST_F(FetchClientTest, CreditWindowHoldsTheTransferBack) {
  Origin origin;
  ASSERT_NE(origin.port(), 0);
  constexpr size_t kTotal = 8u << 20;
  start(1, origin.url("/bytes/" + std::to_string(kTotal)));
  ASSERT_TRUE(runUntil([&] { return received_.bodyBytes >= ipc::kFetchWindowBytes / 2; }));
  // Without credit the transfer stalls at the window: give it time to overrun, if it would.
  runUntil([] { return false; }, 300ms);
  EXPECT_TRUE(received_.head);
  EXPECT_EQ(received_.status, 200);
  EXPECT_LE(received_.bodyBytes, ipc::kFetchWindowBytes);
  EXPECT_FALSE(received_.end);
  // Crediting as the worker would lets it run to the end, never past the window.
  ASSERT_TRUE(runUntil(
      [&] {
        if (uncredited_ > 0) {
          // credit() may deliver held bytes at once, so the count restarts before the call.
          auto bytes = static_cast<uint32_t>(uncredited_);
          uncredited_ = 0;
          client_.credit(1, 1, bytes);
        }
        return received_.end || received_.failed;
      },
      30s));
  EXPECT_FALSE(received_.failed) << received_.failure;
  EXPECT_EQ(received_.bodyBytes, kTotal);
  EXPECT_LE(maxUncredited_, ipc::kFetchWindowBytes);
  EXPECT_EQ(client_.activeCount(), 0u);
}

TEST_F(FetchClientTest, RefusesHeaderInjectionBadMethodsAndSchemes) {
  Origin origin;
  ASSERT_NE(origin.port(), 0);
  start(1, origin.url("/echo"), "GET", {{"x-a", "1\r\nx-injected: yes"}});
  EXPECT_TRUE(received_.failed);
  EXPECT_NE(received_.failure.find("invalid fetch header 'x-a'"), std::string::npos)
      << received_.failure;

  received_ = {};
  start(2, origin.url("/echo"), "GET", {{"bad name", "1"}});
  EXPECT_NE(received_.failure.find("invalid fetch header"), std::string::npos);

  received_ = {};
  start(3, origin.url("/echo"), "GET /x HTTP/1.1");
  EXPECT_NE(received_.failure.find("invalid fetch method"), std::string::npos);

  for (const char* url : {"file:///etc/passwd", "ftp://127.0.0.1/", "gopher://x/", "nonsense"}) {
    received_ = {};
    start(4, url);
    EXPECT_NE(received_.failure.find("only absolute http: and https: URLs"), std::string::npos)
        << url << ": " << received_.failure;
  }
  received_ = {};
  start(5, "http://127.0.0.1/" + std::string(ipc::kFetchMaxUrlBytes, 'a'));
  EXPECT_NE(received_.failure.find("longer than"), std::string::npos);
  // None of them reached libcurl.
  EXPECT_EQ(client_.activeCount(), 0u);
}

TEST_F(FetchClientTest, IdsAreUniqueAndWorkersAreDroppedWholesale) {
  Origin origin;
  ASSERT_NE(origin.port(), 0);
  start(7, origin.url("/stall-head"));
  EXPECT_EQ(client_.activeCount(1), 1u);
  start(7, origin.url("/hello"));
  EXPECT_NE(received_.failure.find("fetch id 7 is in use"), std::string::npos);
  start(8, origin.url("/stall-head"));
  EXPECT_EQ(client_.activeCount(1), 2u);
  runUntil([] { return false; }, 50ms);
  client_.dropWorker(1);
  EXPECT_EQ(client_.activeCount(), 0u);
}

}  // namespace
}  // namespace isolated::supervisor
