// ServiceCalls without a server: a fake ServiceCallHost records what the calls ask of it (the
// refusals, the callee requests admitted, the errors, the messages to the caller's worker).
// Covers the refusals (no such binding, the depth bound, the fetch limits), the callee request a
// call becomes, the whole answer held back by the caller's window until credited, and the ways a
// call ends early (abort, the caller's request going away, a missing target app). The paths
// through real workers are tests/service_binding_test.cc's.
#include "supervisor/bindings/service_calls.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "supervisor/apps/app_registry.h"

namespace isolated::supervisor {
namespace {

constexpr uint32_t kCaller = 7;      // the caller's worker id
constexpr uint32_t kDeployment = 3;  // the caller's deployment
constexpr uint64_t kParent = 11;     // the caller's request

// One message to the caller's worker, decoded.
struct CallerMessage {
  ipc::Envelope::Which kind = ipc::Envelope::FETCH_HEAD;
  uint64_t fetchId = 0;
  int status = 0;
  size_t bytes = 0;
  bool end = false;
  std::string text;  // FetchFailed's message
};

class FakeHost : public ServiceCallHost {
 public:
  std::vector<ServiceBindingSpec> bindings{{"API", "api"}};
  App target;
  bool targetServes = true;
  ServiceCalls* calls = nullptr;  // replyError answers through it, as the Supervisor does

  std::vector<std::pair<uint64_t, std::string>> refused;
  std::vector<PendingRequest> admitted;
  std::vector<int> errors;
  std::vector<CallerMessage> toCaller;
  std::vector<uint64_t> abandoned;
  std::vector<std::pair<uint64_t, bool>> finished;  // id, cancelled

  const std::vector<ServiceBindingSpec>* serviceBindingsOf(uint32_t deployment) override {
    return deployment == kDeployment ? &bindings : nullptr;
  }
  App* serviceTarget(const std::string& name) override {
    return name == "api" && targetServes ? &target : nullptr;
  }
  void refuseFetch(uint32_t, uint64_t fetchId, const std::string& message) override {
    refused.emplace_back(fetchId, message);
  }
  void sendFetchMessage(uint32_t workerId, capnp::MessageBuilder& message) override {
    EXPECT_EQ(workerId, kCaller);
    auto envelope = message.getRoot<ipc::Envelope>().asReader();
    CallerMessage m;
    m.kind = envelope.which();
    switch (envelope.which()) {
      case ipc::Envelope::FETCH_HEAD:
        m.fetchId = envelope.getFetchHead().getFetchId();
        m.status = envelope.getFetchHead().getStatus();
        break;
      case ipc::Envelope::FETCH_BODY:
        m.fetchId = envelope.getFetchBody().getFetchId();
        m.bytes = envelope.getFetchBody().getData().size();
        m.end = envelope.getFetchBody().getEnd();
        break;
      case ipc::Envelope::FETCH_FAILED:
        m.fetchId = envelope.getFetchFailed().getFetchId();
        m.text = envelope.getFetchFailed().getMessage();
        break;
      default:
        break;
    }
    toCaller.push_back(m);
  }
  WorkerProcess* findWorker(uint32_t) override { return nullptr; }
  std::string newRequestId() override { return "rid"; }
  void admit(PendingRequest&& request) override { admitted.push_back(std::move(request)); }
  void replyError(PendingRequest& request, int status, std::string_view kind,
                  std::string_view message, int retryAfterSec) override {
    errors.push_back(status);
    if (request.service) calls->fail(request, status, kind, message, retryAfterSec);
  }
  PendingRequest& startInFlight(PendingRequest&& request) override {
    admitted.push_back(std::move(request));
    return admitted.back();
  }
  void recordAnswer(const PendingRequest&, int, uint32_t) override {}
  void finishRequest(uint64_t id, requests::RequestEnding ending) override {
    finished.emplace_back(id, ending.cancelReason != nullptr);
  }
  void abandonQueued(App& app, uint64_t id) override {
    EXPECT_EQ(&app, &target);
    abandoned.push_back(id);
  }
};

class ServiceCallsTest : public ::testing::Test {
 protected:
  ServiceCallsTest() { host_.calls = &calls_; }

  // The caller's FetchStart for fetch `fetchId` through binding `binding`.
  void start(uint64_t fetchId, const std::string& binding = "API", uint64_t parent = kParent,
             const std::string& url = "https://api/items") {
    capnp::MallocMessageBuilder message;
    auto fetch = message.initRoot<ipc::FetchStart>();
    fetch.setFetchId(fetchId);
    fetch.setParentId(parent);
    fetch.setMethod("POST");
    fetch.setUrl(url);
    auto headers = fetch.initHeaders(1);
    headers[0].setName("x-test");
    headers[0].setValue("1");
    fetch.setService(binding);
    calls_.start(kCaller, kDeployment, fetch.asReader());
  }

  // The callee's whole answer to `request`: `status` and `bodyBytes` of body.
  void answer(PendingRequest& request, int status, size_t bodyBytes) {
    capnp::MallocMessageBuilder message;
    auto response = message.initRoot<ipc::Response>();
    response.setStatus(static_cast<uint16_t>(status));
    std::string body(bodyBytes, 'b');
    response.setBody(kj::arrayPtr(reinterpret_cast<const kj::byte*>(body.data()), body.size()));
    calls_.answer(request, response.asReader());
  }

  size_t bodyBytesToCaller() const {
    size_t total = 0;
    for (const auto& m : host_.toCaller)
      total += m.bytes;
    return total;
  }

  Logger logger_{LogLevel::kError, LogFormat::kText};
  requests::RequestTracker requests_;
  RequestMetrics metrics_;
  FakeHost host_;
  ServiceCalls calls_{host_, requests_, metrics_, logger_};
};

TEST_F(ServiceCallsTest, AFetchThroughABindingBecomesARequestOfTheTargetApp) {
  start(1);
  ASSERT_EQ(host_.admitted.size(), 1u);
  const PendingRequest& request = host_.admitted[0];
  EXPECT_EQ(request.app, &host_.target);
  ASSERT_TRUE(request.service);
  EXPECT_EQ(request.service->method, "POST");
  EXPECT_EQ(request.service->url, "https://api/items");
  ASSERT_EQ(request.service->headers.size(), 1u);
  EXPECT_EQ(request.service->headers[0].first, "x-test");
  EXPECT_EQ(request.service->depth, 1u);
  EXPECT_EQ(requests_.serviceDepth(request.id), 1u);
  EXPECT_EQ(calls_.openBy(kCaller), 1u);
  EXPECT_EQ(calls_.openBy(kCaller + 1), 0u);
  EXPECT_TRUE(host_.refused.empty());
}

TEST_F(ServiceCallsTest, BindingsTheAppDoesNotHaveAreRefused) {
  start(1, "NOPE");
  ASSERT_EQ(host_.refused.size(), 1u);
  EXPECT_EQ(host_.refused[0].first, 1u);
  EXPECT_NE(host_.refused[0].second.find("no service binding named \"NOPE\""), std::string::npos);
  EXPECT_TRUE(host_.admitted.empty());
  EXPECT_EQ(calls_.openBy(kCaller), 0u);
}

TEST_F(ServiceCallsTest, ALoopBetweenAppsIsRefusedAtTheDepthBound) {
  requests_.rememberServiceDepth(kParent, ipc::kServiceMaxDepth);
  start(1);
  ASSERT_EQ(host_.refused.size(), 1u);
  EXPECT_NE(host_.refused[0].second.find("nested service calls"), std::string::npos);
  EXPECT_TRUE(host_.admitted.empty());

  // One level less is still a call, one deeper than its parent.
  requests_.rememberServiceDepth(kParent + 1, ipc::kServiceMaxDepth - 1);
  start(2, "API", kParent + 1);
  ASSERT_EQ(host_.admitted.size(), 1u);
  EXPECT_EQ(host_.admitted[0].service->depth, ipc::kServiceMaxDepth);
}

TEST_F(ServiceCallsTest, RequestsOverTheFetchLimitsAreRefused) {
  start(1, "API", kParent, "https://api/" + std::string(ipc::kFetchMaxUrlBytes, 'a'));
  ASSERT_EQ(host_.refused.size(), 1u);
  EXPECT_NE(host_.refused[0].second.find("over the fetch limits"), std::string::npos);
  EXPECT_TRUE(host_.admitted.empty());
}

TEST_F(ServiceCallsTest, AMissingTargetAppAnswersTheCaller503AndEndsTheCall) {
  host_.targetServes = false;
  start(1);
  EXPECT_TRUE(host_.admitted.empty());
  ASSERT_EQ(host_.errors, std::vector<int>{503});
  ASSERT_GE(host_.toCaller.size(), 2u);
  EXPECT_EQ(host_.toCaller[0].kind, ipc::Envelope::FETCH_HEAD);
  EXPECT_EQ(host_.toCaller[0].status, 503);
  EXPECT_EQ(host_.toCaller.back().kind, ipc::Envelope::FETCH_BODY);
  EXPECT_TRUE(host_.toCaller.back().end);
  EXPECT_EQ(calls_.openBy(kCaller), 0u);
}

TEST_F(ServiceCallsTest, AWholeAnswerWaitsForTheCallersCredit) {
  start(1);
  ASSERT_EQ(host_.admitted.size(), 1u);
  PendingRequest& request = host_.admitted[0];
  const size_t size = ipc::kFetchWindowBytes + 100'000;
  answer(request, 200, size);
  ASSERT_FALSE(host_.toCaller.empty());
  EXPECT_EQ(host_.toCaller[0].kind, ipc::Envelope::FETCH_HEAD);
  EXPECT_EQ(host_.toCaller[0].status, 200);
  // One window's worth, and no end: the rest waits for the caller.
  EXPECT_EQ(bodyBytesToCaller(), ipc::kFetchWindowBytes);
  EXPECT_FALSE(host_.toCaller.back().end);
  EXPECT_EQ(calls_.openBy(kCaller), 1u);

  EXPECT_TRUE(calls_.credit(kCaller, 1, static_cast<uint32_t>(ipc::kFetchWindowBytes)));
  EXPECT_EQ(bodyBytesToCaller(), size);
  EXPECT_TRUE(host_.toCaller.back().end);
  EXPECT_EQ(calls_.openBy(kCaller), 0u);
  // Over: its fetch id is no longer a service call's.
  EXPECT_FALSE(calls_.credit(kCaller, 1, 1));
}

TEST_F(ServiceCallsTest, MessagesForOtherFetchesAreNotTaken) {
  start(1);
  EXPECT_FALSE(calls_.credit(kCaller, 2, 10));
  EXPECT_FALSE(calls_.abort(kCaller, 2));
  EXPECT_FALSE(calls_.credit(kCaller + 1, 1, 10));
  EXPECT_EQ(calls_.openBy(kCaller), 1u);
}

TEST_F(ServiceCallsTest, AnAbortedCallLeavesTheTargetsQueue) {
  start(1);
  ASSERT_EQ(host_.admitted.size(), 1u);
  uint64_t calleeId = host_.admitted[0].id;
  EXPECT_TRUE(calls_.abort(kCaller, 1));
  EXPECT_EQ(calls_.openBy(kCaller), 0u);
  // Not in flight yet (the fake admitted it without dispatching): it was still queued.
  EXPECT_EQ(host_.abandoned, std::vector<uint64_t>{calleeId});
  EXPECT_FALSE(host_.admitted[0].service->active);
}

TEST_F(ServiceCallsTest, TheCallersRequestGoingAwayEndsOnlyItsCalls) {
  start(1);
  start(2);
  start(3, "API", kParent + 1);
  ASSERT_EQ(calls_.openBy(kCaller), 3u);
  calls_.drop(kCaller, kParent, "the client went away");
  EXPECT_EQ(calls_.openBy(kCaller), 1u);
  std::vector<uint64_t> failed;
  for (const auto& m : host_.toCaller) {
    ASSERT_EQ(m.kind, ipc::Envelope::FETCH_FAILED);
    EXPECT_EQ(m.text, "fetch() cancelled: the client went away");
    failed.push_back(m.fetchId);
  }
  EXPECT_EQ(failed, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(host_.abandoned.size(), 2u);

  // The whole worker: the last one ends too, without a message (its worker is gone).
  calls_.drop(kCaller, 0, "the worker is gone");
  EXPECT_EQ(calls_.openBy(kCaller), 0u);
  EXPECT_EQ(host_.toCaller.size(), 2u);
}

}  // namespace
}  // namespace isolated::supervisor
