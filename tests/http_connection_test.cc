// The HTTP/1.1 connection layer (supervisor/http/) on socketpairs and loopback: framing, the
// RFC 9112 rejections, pipelining, limits, flow control, timeouts, half-close and drain.
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <set>

#include "supervisor/http/http_date.h"
#include "supervisor/http/request_checks.h"
#include "tests/http_test_support.h"

namespace isolated::http {
namespace {

using testing::PairHarness;
using testing::Seen;

TEST(HttpConnectionTest, AnswersAGetAndKeepsTheConnection) {
  PairHarness h;
  h.send("GET /hello?x=1 HTTP/1.1\r\nHost: example.test\r\nX-A: b \r\n\r\n");
  ASSERT_TRUE(h.waitResponses(1));
  const auto& r = h.reader.responses[0];
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("X-Target"), "/hello?x=1");
  EXPECT_EQ(r.header("Connection"), "");
  EXPECT_EQ(r.header("Date").size(), 29u);
  ASSERT_EQ(h.handler.seen().size(), 1u);
  auto& seen = *h.handler.seen()[0];
  EXPECT_EQ(seen.method, "GET");
  ASSERT_EQ(seen.headers.size(), 2u);
  EXPECT_EQ(seen.headers[1].first, "X-A");
  EXPECT_EQ(seen.headers[1].second, "b");
  h.send("GET /again HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(h.waitResponses(2));
  EXPECT_EQ(h.reader.responses[1].header("X-Target"), "/again");
  EXPECT_FALSE(h.clientEof);
}

TEST(HttpConnectionTest, ReusesRequestObjectsAcrossKeepAliveRequests) {
  PairHarness h;
  std::set<const void*> addresses;
  for (size_t i = 1; i <= 20; ++i) {
    h.send(i % 2 ? "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
                 : "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx");
    ASSERT_TRUE(h.waitResponses(i));
    addresses.insert(h.handler.seen().back()->address);
  }
  EXPECT_LE(addresses.size(), 2u);  // pooled, not one object per request
}

TEST(HttpConnectionTest, ClosesAfterAnsweringConnectionClose) {
  PairHarness h;
  h.send(
      "GET /1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(h.waitClosed());
  ASSERT_EQ(h.reader.completeCount(), 1u);
  EXPECT_EQ(h.reader.responses[0].header("Connection"), "close");
  EXPECT_EQ(h.handler.seen().size(), 1u);  // nothing after it is parsed
}

TEST(HttpConnectionTest, ServesAnUpgradeRequestAsPlainHttp) {
  PairHarness h;
  h.send(
      "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
      "POST /after HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: upgrade\r\n"
      "Content-Length: 2\r\n\r\nokGET /last HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(h.waitResponses(3));
  EXPECT_EQ(h.reader.responses[0].header("X-Target"), "/ws");
  EXPECT_EQ(h.reader.responses[1].body, "ok");
  EXPECT_EQ(h.reader.responses[2].header("X-Target"), "/last");
  EXPECT_EQ(h.handler.seen()[0]->headers.size(), 3u);  // the owner sees Upgrade and may refuse
}

TEST(HttpConnectionTest, AnswersFiftyPipelinedRequestsInOrder) {
  PairHarness h;
  std::string all;
  for (int i = 0; i < 50; ++i) {
    all += "POST /" + std::to_string(i) +
           " HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(std::to_string(i).size()) +
           "\r\n\r\n" + std::to_string(i);
  }
  h.send(all);
  ASSERT_TRUE(h.waitResponses(50));
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(h.reader.responses[i].header("X-Target"), "/" + std::to_string(i));
    EXPECT_EQ(h.reader.responses[i].body, std::to_string(i));
  }
}

TEST(HttpConnectionTest, AnswersInRequestOrderWhenOwnersAnswerOutOfOrder) {
  PairHarness h;
  h.handler.autoAnswer = false;
  h.send("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(h.pumpUntil([&] { return h.handler.seen().size() == 2; }));
  h.handler.answer(*h.handler.seen()[1]);
  for (int i = 0; i < 20; ++i)
    h.step();
  EXPECT_EQ(h.reader.completeCount(), 0u);
  h.handler.answer(*h.handler.seen()[0]);
  ASSERT_TRUE(h.waitResponses(2));
  EXPECT_EQ(h.reader.responses[0].header("X-Target"), "/1");
  EXPECT_EQ(h.reader.responses[1].header("X-Target"), "/2");
}

TEST(HttpConnectionTest, ParsesARequestSplitByteByByte) {
  PairHarness h;
  std::string request =
      "POST /split HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n";
  for (char c : request) {
    h.send(std::string_view(&c, 1));
    h.step();
  }
  ASSERT_TRUE(h.waitResponses(1));
  EXPECT_EQ(h.reader.responses[0].body, "hello world");
}

TEST(HttpConnectionTest, StreamsARequestBodyUnderCredit) {
  HttpLimits limits;
  limits.readBufferBytes = 32u << 10;
  PairHarness h(limits);
  h.handler.autoAnswer = false;
  h.handler.initialCredit = 0;
  const size_t total = 8u << 20;  // far beyond the read buffer and both socket buffers
  std::string head =
      "POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(total) + "\r\n\r\n";
  h.send(head);
  std::string chunk(64u << 10, 'x');
  size_t written = 0;
  // Without credit the server reads no body: the client's writes soon block.
  for (int i = 0; i < 2000 && written < total; ++i) {
    ssize_t n =
        ::send(h.client.get(), chunk.data(), std::min(chunk.size(), total - written), MSG_NOSIGNAL);
    if (n > 0) written += static_cast<size_t>(n);
    h.step();
  }
  ASSERT_EQ(h.handler.seen().size(), 1u);
  Seen& seen = *h.handler.seen()[0];
  EXPECT_LT(written, total);
  EXPECT_EQ(seen.body.size(), 0u);
  // Granting in steps moves the body exactly as far as the credit.
  seen.request->grantBody(1000);
  ASSERT_TRUE(h.pumpUntil([&] { return seen.body.size() == 1000; }));
  for (int i = 0; i < 10; ++i)
    h.step();
  EXPECT_EQ(seen.body.size(), 1000u);
  while (!seen.bodyEnded) {
    seen.request->grantBody(256u << 10);
    if (written < total) {
      ssize_t n = ::send(h.client.get(), chunk.data(), std::min(chunk.size(), total - written),
                         MSG_NOSIGNAL);
      if (n > 0) written += static_cast<size_t>(n);
    }
    h.step();
  }
  EXPECT_EQ(seen.body.size(), total);
  seen.request->respond(200, {}, "done");
  ASSERT_TRUE(h.waitResponses(1));
  EXPECT_EQ(h.reader.responses[0].body, "done");
}

TEST(HttpConnectionTest, StreamsAResponseChunkedAndReportsBackpressure) {
  HttpLimits limits;
  limits.outputHighWaterBytes = 64u << 10;
  PairHarness h(limits);
  h.handler.autoAnswer = false;
  h.send("GET /stream HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(h.pumpUntil([&] { return h.handler.seen().size() == 1; }));
  HttpRequest* r = h.handler.seen()[0]->request;
  r->startResponse(200, {}, std::nullopt);
  std::string piece(16u << 10, 'y');
  int accepted = 0;
  while (r->write(piece))
    ++accepted;
  EXPECT_LT(accepted, 64);  // the high-water mark stopped it
  size_t expected = (accepted + 1) * piece.size();
  // Reading drains the buffer and the owner is told it may write again.
  ASSERT_TRUE(h.pumpUntil([&] { return h.handler.writableCalls > 0; }));
  r->end();
  ASSERT_TRUE(h.waitResponses(1));
  EXPECT_EQ(h.reader.responses[0].header("Transfer-Encoding"), "chunked");
  EXPECT_EQ(h.reader.responses[0].body.size(), expected);
}

TEST(HttpConnectionTest, AbortsAResponseThatBreaksItsContentLength) {
  PairHarness h;
  h.handler.autoAnswer = false;
  h.send("GET /long HTTP/1.1\r\nHost: a\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(h.pumpUntil([&] { return h.handler.seen().size() == 2; }));
  HttpRequest* r = h.handler.seen()[0]->request;
  r->startResponse(200, {}, 5);
  EXPECT_TRUE(r->write("abc"));
  EXPECT_FALSE(r->write("defgh"));  // two bytes too many: the answer is cut off, not reframed
  ASSERT_TRUE(h.waitClosed());
  EXPECT_EQ(h.reader.completeCount(), 1u);
  EXPECT_EQ(h.reader.responses[0].body, "abcde");
  EXPECT_TRUE(h.handler.seen()[1]->gone);
}

TEST(HttpConnectionTest, AbortTruncatesTheAnswerAndCloses) {
  PairHarness h;
  h.handler.autoAnswer = false;
  h.send("GET /short HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(h.pumpUntil([&] { return h.handler.seen().size() == 1; }));
  HttpRequest* r = h.handler.seen()[0]->request;
  r->startResponse(200, {}, std::nullopt);
  r->write("partial");
  r->abort();
  ASSERT_TRUE(h.waitClosed());
  ASSERT_EQ(h.reader.responses.size(), 1u);
  EXPECT_FALSE(h.reader.responses[0].complete);  // no last chunk: the client sees it cut off
  EXPECT_EQ(h.reader.responses[0].body, "partial");
}

TEST(HttpConnectionTest, SendsALargeWholeBody) {
  PairHarness h;
  h.handler.autoAnswer = false;
  h.send("GET /large HTTP/1.1\r\nHost: a\r\n\r\nHEAD /large HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(h.pumpUntil([&] { return h.handler.seen().size() == 2; }));
  std::string body(3u << 20, 'z');
  h.handler.seen()[0]->request->respond(200, {}, body);
  h.reader.expectHeadResponse(1);
  h.handler.seen()[1]->request->respond(200, {}, body);
  ASSERT_TRUE(h.waitResponses(2));
  EXPECT_EQ(h.reader.responses[0].body.size(), body.size());
  EXPECT_EQ(h.reader.responses[1].header("Content-Length"), std::to_string(body.size()));
  EXPECT_EQ(h.reader.responses[1].body.size(), 0u);
}

// Each malformed request: the status, then the connection closes.
struct Rejection {
  const char* name;
  std::string request;
  int status;
};

class HttpRejectionTest : public ::testing::TestWithParam<Rejection> {};

TEST_P(HttpRejectionTest, AnswersAndCloses) {
  HttpLimits limits;
  limits.maxTargetBytes = 100;
  limits.maxHeaderBytes = 1000;
  limits.maxHeaderCount = 10;
  limits.maxBodyBytes = 100;
  PairHarness h(limits);
  h.send(GetParam().request);
  ASSERT_TRUE(h.waitClosed()) << GetParam().name;
  ASSERT_EQ(h.reader.completeCount(), 1u) << GetParam().name;
  EXPECT_EQ(h.reader.responses[0].status, GetParam().status) << GetParam().name;
  EXPECT_EQ(h.reader.responses[0].header("Connection"), "close");
  EXPECT_TRUE(h.handler.seen().empty() || h.handler.seen()[0]->gone) << GetParam().name;
}

const std::string kPost = "POST / HTTP/1.1\r\nHost: a\r\n";
INSTANTIATE_TEST_SUITE_P(
    Framing, HttpRejectionTest,
    ::testing::Values(
        Rejection{"TeAndCl",
                  kPost + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", 400},
        Rejection{"ClAndTe",
                  kPost + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
        Rejection{"TwoEqualCl", kPost + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400},
        Rejection{"SignedCl", kPost + "Content-Length: +3\r\n\r\nabc", 400},
        Rejection{"HexCl", kPost + "Content-Length: 0x3\r\n\r\nabc", 400},
        Rejection{"ListCl", kPost + "Content-Length: 3, 3\r\n\r\nabc", 400},
        Rejection{"TrailerWithoutName",
                  kPost + "Transfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n: v\r\n\r\n", 400},
        Rejection{"TrailerNameWithSpace",
                  kPost + "Transfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nA b: v\r\n\r\n", 400},
        Rejection{"HeadEndsWithBareCr", "GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", 400},
        Rejection{"BadChunkSize", kPost + "Transfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n",
                  400},
        Rejection{"HugeChunkSize",
                  kPost + "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n", 400},
        Rejection{"ObsFold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n  b\r\n\r\n", 400},
        Rejection{"SpaceBeforeFirstField", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400},
        Rejection{"Nul", std::string("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 32), 400},
        Rejection{"BareCr", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400},
        Rejection{"TeGzip", kPost + "Transfer-Encoding: gzip\r\n\r\nGET / HTTP/1.1\r\n\r\n", 400},
        Rejection{"TeGzipChunked", kPost + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
                  400},
        Rejection{
            "TeChunkedTwice",
            kPost + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400},
        Rejection{"Http10Te", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                  400},
        Rejection{"NoHost", "GET / HTTP/1.1\r\n\r\n", 400},
        Rejection{"TwoHosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
        Rejection{"HostWithPath", "GET / HTTP/1.1\r\nHost: x/admin#\r\n\r\n", 400},
        Rejection{"HostWithUserinfo", "GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", 400},
        Rejection{"HostBadPort", "GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n", 400},
        Rejection{"Http09", "GET /\r\n", 400},
        Rejection{"Http09WithEmptyLine", "GET /\r\n\r\n", 400},
        Rejection{"HeaderNameWithSpace", "GET / HTTP/1.1\r\nHost: a\r\nHo st: a\r\n\r\n", 400},
        Rejection{"SpaceBeforeColon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
        Rejection{"TargetWithoutSlash", "GET a HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        Rejection{"TargetWithFragment", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        Rejection{"UnknownMethod", "FROB / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        Rejection{"Connect", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 501},
        Rejection{"Http2Version", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
        Rejection{"UnknownExpectation", "GET / HTTP/1.1\r\nHost: a\r\nExpect: frob\r\n\r\n", 417},
        Rejection{"LongTarget", "GET /" + std::string(200, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n",
                  414},
        Rejection{"LargeHead",
                  "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(2000, 'a') + "\r\n\r\n", 431},
        Rejection{"LargePartialHead", "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(2000, 'a'),
                  431},
        Rejection{"ManyHeaders",
                  [] {
                    std::string s = "GET / HTTP/1.1\r\nHost: a\r\n";
                    for (int i = 0; i < 20; ++i)
                      s += "X" + std::to_string(i) + ": v\r\n";
                    return s + "\r\n";
                  }(),
                  431},
        Rejection{"LargeContentLength", kPost + "Content-Length: 101\r\n\r\n", 413},
        Rejection{"LargeChunkedBody",
                  kPost + "Transfer-Encoding: chunked\r\n\r\n40\r\n" + std::string(64, 'a') +
                      "\r\n40\r\n" + std::string(64, 'a') + "\r\n0\r\n\r\n",
                  413}),
    [](const ::testing::TestParamInfo<Rejection>& info) { return info.param.name; });

TEST(HttpConnectionTest, AnswersRequestsBeforeAMalformedOneFirst) {
  PairHarness h;
  h.send(
      "GET /ok HTTP/1.1\r\nHost: a\r\n\r\nGET /bad HTTP/1.1\r\n\r\nGET /never HTTP/1.1\r\nHost: "
      "a\r\n\r\n");
  ASSERT_TRUE(h.waitClosed());
  ASSERT_EQ(h.reader.completeCount(), 2u);
  EXPECT_EQ(h.reader.responses[0].status, 200);
  EXPECT_EQ(h.reader.responses[1].status, 400);
  EXPECT_EQ(h.handler.seen().size(), 1u);
}

TEST(HttpConnectionTest, Http10ClosesUnlessKeepAliveAndStreamsUntilClose) {
  PairHarness h;
  h.send("GET /ka HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  ASSERT_TRUE(h.waitResponses(1));
  EXPECT_EQ(h.reader.responses[0].header("Connection"), "keep-alive");
  h.handler.autoAnswer = false;
  h.send("GET /stream HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(h.pumpUntil([&] { return h.handler.seen().size() == 2; }));
  HttpRequest* r = h.handler.seen()[1]->request;
  EXPECT_EQ(r->versionMinor(), 0);
  r->startResponse(200, {}, std::nullopt);
  r->write("abc");
  r->write("def");
  r->end();
  ASSERT_TRUE(h.waitClosed());
  ASSERT_EQ(h.reader.completeCount(), 2u);
  EXPECT_EQ(h.reader.responses[1].header("Transfer-Encoding"), "");
  EXPECT_EQ(h.reader.responses[1].header("Connection"), "close");
  EXPECT_EQ(h.reader.responses[1].body, "abcdef");
}

TEST(HttpConnectionTest, SendsContinueWhenTheOwnerGrantsCredit) {
  PairHarness h;
  h.handler.initialCredit = 0;
  h.send("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  ASSERT_TRUE(h.pumpUntil([&] { return h.handler.seen().size() == 1; }));
  for (int i = 0; i < 10; ++i)
    h.step();
  EXPECT_EQ(h.reader.responses.size(), 0u);
  h.handler.seen()[0]->request->grantBody(100);
  ASSERT_TRUE(h.waitResponses(1));
  EXPECT_EQ(h.reader.responses[0].status, 100);
  h.send("hello");
  ASSERT_TRUE(h.waitResponses(2));
  EXPECT_EQ(h.reader.responses[1].status, 200);
  EXPECT_EQ(h.reader.responses[1].body, "hello");
}

TEST(HttpConnectionTest, AnswersPipelinedRequestsOfAClientThatHalfCloses) {
  PairHarness h;
  h.send("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n");
  ::shutdown(h.client.get(), SHUT_WR);
  ASSERT_TRUE(h.waitClosed());
  ASSERT_EQ(h.reader.completeCount(), 2u);
  EXPECT_EQ(h.reader.responses[1].header("X-Target"), "/2");
}

TEST(HttpConnectionTest, ReportsAClientThatLeavesWhileItsRequestIsHeld) {
  PairHarness h;
  h.handler.autoAnswer = false;
  h.send("GET /held HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(h.pumpUntil([&] { return h.handler.seen().size() == 1; }));
  h.client.reset();
  ASSERT_TRUE(h.pumpUntil([&] { return h.handler.seen()[0]->gone; }));
  EXPECT_EQ(h.handler.seen()[0]->goneReason, GoneReason::kClientClosed);
  EXPECT_TRUE(h.pumpUntil([&] { return h.server().connectionCount() == 0; }));
}

TEST(HttpConnectionTest, ReportsABodyCutShort) {
  PairHarness h;
  h.handler.autoAnswer = false;
  h.send(kPost + "Content-Length: 10\r\n\r\nabc");
  ASSERT_TRUE(h.pumpUntil([&] { return h.handler.seen().size() == 1; }));
  ::shutdown(h.client.get(), SHUT_WR);
  ASSERT_TRUE(h.pumpUntil([&] { return h.handler.seen()[0]->gone; }));
  EXPECT_EQ(h.handler.seen()[0]->body, "abc");
}

TEST(HttpConnectionTest, TimesOutASlowHead) {
  HttpLimits limits;
  limits.headerTimeoutMs = 50;
  PairHarness h(limits);
  h.send("GET / HTTP/1.1\r\nHost:");
  ASSERT_TRUE(h.waitClosed());
  ASSERT_EQ(h.reader.completeCount(), 1u);
  EXPECT_EQ(h.reader.responses[0].status, 408);
}

TEST(HttpConnectionTest, ClosesAConnectionThatSendsNothing) {
  HttpLimits limits;
  limits.headerTimeoutMs = 50;
  PairHarness h(limits);
  ASSERT_TRUE(h.waitClosed());
  EXPECT_EQ(h.reader.responses.size(), 0u);
}

TEST(HttpConnectionTest, GrowsItsReadBufferForALargeHeadAndPipelinedRequests) {
  HttpLimits limits;
  limits.maxHeaderBytes = 32u << 10;
  limits.readBufferBytes = 64u << 10;
  PairHarness h(limits);
  std::string big = "GET /big HTTP/1.1\r\nHost: a\r\nX: " + std::string(20000, 'v') + "\r\n\r\n";
  h.send(big + big + "GET /small HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(h.waitResponses(3));
  EXPECT_EQ(h.handler.seen()[1]->headers[1].second.size(), 20000u);
  EXPECT_EQ(h.reader.responses[2].header("X-Target"), "/small");
}

TEST(HttpConnectionTest, TimesOutAnIdleConnection) {
  HttpLimits limits;
  limits.idleTimeoutMs = 50;
  PairHarness h(limits);
  h.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(h.waitResponses(1));
  ASSERT_TRUE(h.waitClosed());
  EXPECT_EQ(h.reader.completeCount(), 1u);
}

TEST(HttpConnectionTest, TimesOutASlowBody) {
  HttpLimits limits;
  limits.bodyTimeoutMs = 50;
  PairHarness h(limits);
  h.handler.autoAnswer = false;
  h.send(kPost + "Content-Length: 10\r\n\r\nabc");
  ASSERT_TRUE(h.waitClosed());
  ASSERT_EQ(h.handler.seen().size(), 1u);
  EXPECT_TRUE(h.handler.seen()[0]->gone);
  EXPECT_EQ(h.handler.seen()[0]->goneReason, GoneReason::kTimeout);
  ASSERT_EQ(h.reader.completeCount(), 1u);
  EXPECT_EQ(h.reader.responses[0].status, 408);
}

TEST(HttpConnectionTest, ClosesOnAClientThatStopsReading) {
  HttpLimits limits;
  limits.bodyTimeoutMs = 100;
  PairHarness h(limits);
  h.handler.autoAnswer = false;
  h.send("GET /stream HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(h.pumpUntil([&] { return h.handler.seen().size() == 1; }));
  HttpRequest* r = h.handler.seen()[0]->request;
  r->startResponse(200, {}, std::nullopt);
  std::string piece(64u << 10, 'y');
  while (r->write(piece)) {
  }
  // The client reads nothing: the stalled write times out and the owner is told.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!h.handler.seen()[0]->gone && std::chrono::steady_clock::now() < deadline) {
    h.dispatcher.runReady();
    ::poll(nullptr, 0, 2);
  }
  EXPECT_TRUE(h.handler.seen()[0]->gone);
  EXPECT_EQ(h.handler.seen()[0]->goneReason, GoneReason::kTimeout);
}

TEST(HttpConnectionTest, DrainClosesIdleConnectionsAndClosesBusyOnesAfterTheirAnswer) {
  PairHarness h;
  UniqueFd idleClient = std::move(h.client);
  h.connect();
  h.handler.autoAnswer = false;
  h.send("GET /busy HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(h.pumpUntil([&] { return h.handler.seen().size() == 1; }));
  bool drained = false;
  h.server().drain([&] { drained = true; });
  ASSERT_TRUE(h.pumpUntil([&] { return h.server().connectionCount() == 1; }));
  char c;
  EXPECT_EQ(::recv(idleClient.get(), &c, 1, MSG_DONTWAIT), 0);  // closed at once
  h.handler.answer(*h.handler.seen()[0]);
  ASSERT_TRUE(h.waitClosed());
  EXPECT_EQ(h.reader.responses[0].header("Connection"), "close");
  EXPECT_TRUE(h.pumpUntil([&] { return drained; }));
}

TEST(HttpConnectionTest, DestroyingTheServerTellsOwners) {
  PairHarness h;
  h.handler.autoAnswer = false;
  h.send("GET /held HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(h.pumpUntil([&] { return h.handler.seen().size() == 1; }));
  h.destroyServer();
  EXPECT_TRUE(h.handler.seen()[0]->gone);
  EXPECT_EQ(h.handler.seen()[0]->goneReason, GoneReason::kServerClosing);
}

TEST(HttpDateTest, FormatsImfFixdate) {
  HttpDate date;
  EXPECT_EQ(date.at(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(date.at(0), "Thu, 01 Jan 1970 00:00:00 GMT");
}

TEST(RequestChecksTest, ValidatesHostTargetAndTokens) {
  EXPECT_TRUE(isValidHost("example.test"));
  EXPECT_TRUE(isValidHost("example.test:8080"));
  EXPECT_TRUE(isValidHost("[::1]:80"));
  EXPECT_TRUE(isValidHost("a%20b"));
  EXPECT_FALSE(isValidHost("x/admin#"));
  EXPECT_FALSE(isValidHost("a@b"));
  EXPECT_FALSE(isValidHost("[::1"));
  EXPECT_FALSE(isValidHost("a:b"));
  EXPECT_FALSE(isValidHost("a%2"));
  EXPECT_TRUE(isValidTarget("/a?b=c", false));
  EXPECT_TRUE(isValidTarget("http://a/b", false));
  EXPECT_TRUE(isValidTarget("*", true));
  EXPECT_FALSE(isValidTarget("*", false));
  EXPECT_FALSE(isValidTarget("/a#b", false));
  EXPECT_FALSE(isValidTarget("a", false));
  EXPECT_TRUE(isToken("X-Foo"));
  EXPECT_FALSE(isToken("X Foo"));
  EXPECT_FALSE(isToken(""));
  EXPECT_TRUE(isChunkedOnly(" Chunked "));
  EXPECT_FALSE(isChunkedOnly("gzip, chunked"));
  EXPECT_TRUE(isHttp09RequestLine("GET /\r\n"));
  EXPECT_FALSE(isHttp09RequestLine("GET / HTTP/1.1\r\n"));
  EXPECT_FALSE(isHttp09RequestLine("GET / HTTP/1.1"));
  EXPECT_FALSE(headLinesValid("GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n"));
  EXPECT_TRUE(headLinesValid("\r\nGET / HTTP/1.1\r\nA: b\r\n\r\n"));
}

}  // namespace
}  // namespace isolated::http
