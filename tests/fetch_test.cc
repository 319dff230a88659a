// Outbound fetch() end to end: the real binary serving tests/scripts/fetcher.js, fetching from
// a local origin (tests/fetch_origin.py) over HTTP and HTTPS (a CA made with the openssl CLI
// for each run), with redirects, --fetch-deny, the subrequest limit, aborts and cancellation.
// Bodies (whole, streamed, uploads): fetch_stream_test.cc. Helpers: fetch_fixture.h.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fetch_fixture.h"
#include "http_client.h"
#include "origin_process.h"
#include "server_process.h"

namespace isolated::test {
namespace {

TEST_F(FetchTest, GetsAndPostsWithHeadersAndBodies) {
  Origin origin;
  ASSERT_NE(origin.port(), 0);
  ServerProcess server(script(), {"--workers", "1"});
  ASSERT_NE(server.waitReady(), 0) << server.output();

  auto [status, got] = ask(server, "/get", origin.url("/hello"));
  ASSERT_EQ(status, 200) << got.dump();
  EXPECT_EQ(got["status"], 200);
  EXPECT_EQ(got["statusText"], "OK");
  EXPECT_EQ(got["ok"], true);
  EXPECT_EQ(got["body"], "hello from origin");
  EXPECT_EQ(got["headers"]["x-origin"], "yes");
  EXPECT_EQ(got["headers"]["content-type"], "text/plain");
  EXPECT_EQ(got["url"], origin.url("/hello"));
  EXPECT_EQ(got["redirected"], false);

  auto [postStatus, posted] = ask(server, "/post", origin.url("/echo"));
  ASSERT_EQ(postStatus, 200) << posted.dump();
  const json& echoed = posted["answer"];
  EXPECT_EQ(echoed["method"], "POST");
  EXPECT_EQ(echoed["headers"]["x-test"], "fetch");
  EXPECT_EQ(echoed["headers"]["content-type"], "application/json");
  // The body arrives byte for byte (UTF-8 included) and round-trips as JSON.
  json sent = json::parse(echoed["body"].get<std::string>());
  EXPECT_EQ(sent["n"], json::array({1, 2, 3}));
  EXPECT_EQ(sent["s"], "h\u00e9llo");

  // A 404 is a response, not an error.
  auto [notFoundStatus, notFound] = ask(server, "/get", origin.url("/status/404"));
  ASSERT_EQ(notFoundStatus, 200) << notFound.dump();
  EXPECT_EQ(notFound["status"], 404);
  EXPECT_EQ(notFound["ok"], false);
  EXPECT_EQ(notFound["body"], "status 404");
}

TEST_F(FetchTest, MethodsRequestObjectsAndPassThrough) {
  Origin origin;
  ASSERT_NE(origin.port(), 0);
  ServerProcess server(script(), {"--workers", "1"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  for (const char* method : {"PUT", "DELETE", "PATCH", "OPTIONS"}) {
    auto [status, got] =
        ask(server, "/method", origin.url("/echo"), std::string("&method=") + method);
    ASSERT_EQ(status, 200) << method << " " << got.dump();
    json echoed = json::parse(got["body"].get<std::string>());
    EXPECT_EQ(echoed["method"], method);
    EXPECT_EQ(echoed["body"], std::string("body of ") + method);
  }
  // HEAD: the head only.
  auto [headStatus, head] = ask(server, "/method", origin.url("/hello"), "&method=HEAD");
  ASSERT_EQ(headStatus, 200) << head.dump();
  EXPECT_EQ(head["status"], 200);
  EXPECT_EQ(head["length"], "17");
  EXPECT_EQ(head["body"], "");

  // A Request object carries its method, headers and body.
  auto [requestStatus, request] = ask(server, "/request", origin.url("/echo"));
  ASSERT_EQ(requestStatus, 200) << request.dump();
  EXPECT_EQ(request["answer"]["method"], "PUT");
  EXPECT_EQ(request["answer"]["headers"]["x-from"], "request");
  EXPECT_EQ(request["answer"]["body"], "hi");

  // A handler may return the fetched response itself.
  auto proxied = httpGet(server.baseUrl() + "/proxy?url=" + encode(origin.url("/json")));
  EXPECT_EQ(proxied.status, 200);
  EXPECT_EQ(proxied.headers["content-type"], "application/json");
  EXPECT_EQ(proxied.body, R"({"answer": 42, "list": [1, 2, 3]})");
  auto missing = httpGet(server.baseUrl() + "/proxy?url=" + encode(origin.url("/status/404")));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body, "status 404");
}

TEST_F(FetchTest, BodiesAreStreamsAndWaitUntilKeepsFetching) {
  Origin origin;
  ASSERT_NE(origin.port(), 0);
  ServerProcess server(script(), {"--workers", "1"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  auto [status, got] =
      ask(server, "/streams", origin.url("/echo"), "&hello=" + encode(origin.url("/hello")));
  ASSERT_EQ(status, 200) << got.dump();
  EXPECT_EQ(got["isStream"], true);
  EXPECT_EQ(got["a"], "hello from origin");
  EXPECT_EQ(got["b"], "hello from origin");  // clone() tees the stream
  EXPECT_EQ(got["relayed"], "hello from origin");
  EXPECT_EQ(got["decoded"], "hello from origin");

  // A fetch kept alive by waitUntil completes after the response was sent.
  auto answered = httpGet(server.baseUrl() + "/wait-until?url=" + encode(origin.url("/hello")));
  EXPECT_EQ(answered.body, "answered first");
  auto line = server.waitForLine(
      [](const std::string& l) { return l.find("waitUntil fetch") != std::string::npos; });
  ASSERT_TRUE(line) << server.output();
  EXPECT_TRUE(has(*line, "waitUntil fetch got: hello from origin")) << *line;
}

TEST_F(FetchTest, RedirectModeAndSignalOfARequestObject) {
  Origin origin;
  ASSERT_NE(origin.port(), 0);
  ServerProcess server(script(), {"--workers", "1"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  std::string hop = origin.url("/redirect?to=" + encode(origin.url("/hello")) + "&code=302");

  auto [manualStatus, manual] = ask(server, "/redirect", hop, "&mode=manual&via=request");
  ASSERT_EQ(manualStatus, 200) << manual.dump();
  EXPECT_EQ(manual["status"], 302);
  EXPECT_EQ(manual["location"], origin.url("/hello"));

  auto [errorStatus, error] = ask(server, "/redirect", hop, "&mode=error&via=request");
  EXPECT_EQ(errorStatus, 502);
  EXPECT_TRUE(has(contentOf(error, "message"), "redirect mode is 'error'")) << error.dump();

  auto [headStatus, head] = ask(server, "/abort-head", origin.url("/stall-head"), "&via=request");
  ASSERT_EQ(headStatus, 200) << head.dump();
  EXPECT_EQ(head["aborted"], true);
  EXPECT_EQ(head["same"], true);
}

TEST_F(FetchTest, RedirectModes) {
  Origin origin;
  ASSERT_NE(origin.port(), 0);
  ServerProcess server(script(), {"--workers", "1"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  std::string hop = origin.url("/redirect?to=" + encode(origin.url("/hello")) + "&code=302");

  auto [followStatus, follow] = ask(server, "/redirect", hop, "&mode=follow");
  ASSERT_EQ(followStatus, 200) << follow.dump();
  EXPECT_EQ(follow["status"], 200);
  EXPECT_EQ(follow["body"], "hello from origin");
  EXPECT_EQ(follow["redirected"], true);
  EXPECT_EQ(follow["url"], origin.url("/hello"));

  auto [manualStatus, manual] = ask(server, "/redirect", hop, "&mode=manual");
  ASSERT_EQ(manualStatus, 200) << manual.dump();
  EXPECT_EQ(manual["status"], 302);
  EXPECT_EQ(manual["location"], origin.url("/hello"));
  EXPECT_EQ(manual["redirected"], false);

  auto [errorStatus, error] = ask(server, "/redirect", hop, "&mode=error");
  EXPECT_EQ(errorStatus, 502);
  EXPECT_EQ(error["name"], "TypeError");
  EXPECT_TRUE(has(contentOf(error, "message"), "redirect mode is 'error'")) << error.dump();

  // 303 turns a POST into a GET without its body; relative Locations resolve.
  std::string see = origin.url("/redirect?to=%2Fecho&code=303");
  auto [seeStatus, seeOther] = ask(server, "/redirect", see, "&mode=follow&method=POST");
  ASSERT_EQ(seeStatus, 200) << seeOther.dump();
  json echoed = json::parse(seeOther["body"].get<std::string>());
  EXPECT_EQ(echoed["method"], "GET");
  EXPECT_EQ(echoed["body"], "");
  // 307 keeps both.
  std::string keep = origin.url("/redirect?to=%2Fecho&code=307");
  auto [keepStatus, kept] = ask(server, "/redirect", keep, "&mode=follow&method=POST");
  ASSERT_EQ(keepStatus, 200) << kept.dump();
  json keptEcho = json::parse(kept["body"].get<std::string>());
  EXPECT_EQ(keptEcho["method"], "POST");
  EXPECT_EQ(keptEcho["body"], "payload");

  // 20 redirects are followed, the 21st is an error.
  auto [twentyStatus, twenty] = ask(server, "/get", origin.url("/chain/20"));
  ASSERT_EQ(twentyStatus, 200) << twenty.dump();
  EXPECT_EQ(twenty["body"], "end of chain");
  auto [tooManyStatus, tooMany] = ask(server, "/get", origin.url("/chain/21"));
  EXPECT_EQ(tooManyStatus, 502);
  EXPECT_TRUE(has(contentOf(tooMany, "message"), "more than 20 redirects")) << tooMany.dump();
}

TEST_F(FetchTest, FailuresRejectWithTypeErrorsThatSayWhy) {
  ServerProcess server(script(), {"--workers", "1"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  // Port 1 on loopback: nothing listens.
  auto [refusedStatus, refused] = ask(server, "/get", "http://127.0.0.1:1/");
  EXPECT_EQ(refusedStatus, 502);
  EXPECT_EQ(refused["name"], "TypeError");
  std::string message = contentOf(refused, "message");
  EXPECT_TRUE(has(message, "fetch to http://127.0.0.1:1/ failed")) << message;
  EXPECT_TRUE(has(message, "refused") || has(message, "connect")) << message;

  auto [schemeStatus, scheme] = ask(server, "/scheme", "file:///etc/passwd");
  EXPECT_EQ(schemeStatus, 502);
  EXPECT_EQ(scheme["name"], "TypeError");
  EXPECT_TRUE(has(contentOf(scheme, "message"), "only http: and https:")) << scheme.dump();

  auto [relativeStatus, relative] = ask(server, "/scheme", "/relative");
  EXPECT_EQ(relativeStatus, 502);
  EXPECT_EQ(relative["name"], "TypeError");
}

TEST_F(FetchTest, DenyListRefusesAddressesAfterResolutionAndRedirects) {
  Origin origin;
  ASSERT_NE(origin.port(), 0);
  ServerProcess server(script(), {"--workers", "1", "--fetch-deny", "127.0.0.2/32,::1/128"});
  ASSERT_NE(server.waitReady(), 0) << server.output();

  // 127.0.0.1 is allowed...
  auto [allowedStatus, allowed] = ask(server, "/get", origin.url("/hello"));
  EXPECT_EQ(allowedStatus, 200) << allowed.dump();
  // ...127.0.0.2 (the same server) is not.
  auto [deniedStatus, denied] = ask(server, "/get", origin.url("/hello", "127.0.0.2"));
  EXPECT_EQ(deniedStatus, 502);
  EXPECT_EQ(denied["name"], "TypeError");
  std::string message = contentOf(denied, "message");
  EXPECT_TRUE(has(message, "refused: 127.0.0.2 is in the --fetch-deny range 127.0.0.2/32"))
      << message;

  // A redirect from an allowed address to a denied one is refused at the second hop.
  std::string hop =
      origin.url("/redirect?to=" + encode(origin.url("/hello", "127.0.0.2")) + "&code=302");
  auto [viaStatus, via] = ask(server, "/get", hop);
  EXPECT_EQ(viaStatus, 502);
  EXPECT_TRUE(has(contentOf(via, "message"), "--fetch-deny range 127.0.0.2/32")) << via.dump();
}

TEST_F(FetchTest, DenyListCannotBeBypassedThroughTheUnspecifiedAddress) {
  Origin origin;
  ASSERT_NE(origin.port(), 0);
  // 0.0.0.0 reaches a loopback listener on Linux: denying 127.0.0.0/8 must refuse it too.
  ServerProcess server(script(), {"--workers", "1", "--fetch-deny", "127.0.0.0/8"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  auto [status, denied] = ask(server, "/get", origin.url("/hello", "0.0.0.0"));
  EXPECT_EQ(status, 502) << denied.dump();
  EXPECT_TRUE(has(contentOf(denied, "message"), "refused: 0.0.0.0 is in the --fetch-deny range"))
      << denied.dump();
}

TEST_F(FetchTest, PrivatePresetRefusesLoopbackInEveryForm) {
  Origin origin;
  ASSERT_NE(origin.port(), 0);
  ServerProcess server(script(), {"--workers", "1", "--fetch-deny", "private"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  for (const char* host : {"127.0.0.1", "0.0.0.0", "localhost"}) {
    auto [status, denied] = ask(server, "/get", origin.url("/hello", host));
    EXPECT_EQ(status, 502) << host << ": " << denied.dump();
    EXPECT_TRUE(has(contentOf(denied, "message"), "--fetch-deny range private ("))
        << host << ": " << denied.dump();
  }
}

TEST_F(FetchTest, DenyListAppliesToResolvedNames) {
  Origin origin;
  ASSERT_NE(origin.port(), 0);
  ServerProcess server(script(), {"--workers", "1"},
                       {{"ISOLATED_FETCH_DENY", "127.0.0.0/8,::1/128"}});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  // `localhost` is a name; what is refused is the address it resolves to.
  auto [status, denied] = ask(server, "/get", origin.url("/hello", "localhost"));
  EXPECT_EQ(status, 502);
  std::string message = contentOf(denied, "message");
  EXPECT_TRUE(has(message, "--fetch-deny range")) << message;
  EXPECT_TRUE(has(message, "fetch to http://localhost:")) << message;
}

TEST_F(FetchTest, SubrequestLimitPerRequest) {
  Origin origin;
  ASSERT_NE(origin.port(), 0);
  ServerProcess server(script(), {"--workers", "1", "--max-subrequests", "3"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  auto [status, many] = ask(server, "/many", origin.url("/hello"), "&n=5");
  ASSERT_EQ(status, 200) << many.dump();
  EXPECT_EQ(many["ok"], 3);
  EXPECT_EQ(many["error"]["name"], "TypeError");
  std::string message = contentOf(many["error"], "message");
  EXPECT_TRUE(has(message, "too many subrequests")) << message;
  EXPECT_TRUE(has(message, "at most 3 (--max-subrequests)")) << message;
  // The budget is per request: the next request has its own.
  auto [again, second] = ask(server, "/many", origin.url("/hello"), "&n=3");
  ASSERT_EQ(again, 200);
  EXPECT_EQ(second["ok"], 3);
}

TEST_F(FetchTest, AbortSignalRejectsWithItsReason) {
  Origin origin;
  ASSERT_NE(origin.port(), 0);
  ServerProcess server(script(), {"--workers", "1"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  auto [headStatus, head] = ask(server, "/abort-head", origin.url("/stall-head"));
  ASSERT_EQ(headStatus, 200) << head.dump();
  EXPECT_EQ(head["aborted"], true);
  EXPECT_EQ(head["same"], true);

  auto [defaultStatus, byDefault] = ask(server, "/abort-default", origin.url("/hello"));
  ASSERT_EQ(defaultStatus, 200) << byDefault.dump();
  EXPECT_EQ(byDefault["aborted"], true);
  EXPECT_EQ(byDefault["name"], "AbortError");
  EXPECT_EQ(byDefault["isDOMException"], true);

  auto [timeoutStatus, timeout] = ask(server, "/timeout", origin.url("/stall-head"));
  ASSERT_EQ(timeoutStatus, 200) << timeout.dump();
  EXPECT_EQ(timeout["aborted"], true);
  EXPECT_EQ(timeout["name"], "TimeoutError");

  auto [badStatus, bad] = ask(server, "/bad-signal", origin.url("/hello"));
  EXPECT_EQ(badStatus, 502);
  EXPECT_EQ(bad["name"], "TypeError");
  EXPECT_TRUE(has(contentOf(bad, "message"), "AbortSignal")) << bad.dump();

  auto [bodyStatus, body] = ask(server, "/abort-body", origin.url("/stall"));
  ASSERT_EQ(bodyStatus, 200) << body.dump();
  EXPECT_EQ(body["aborted"], true);
  EXPECT_EQ(body["first"], 1);
  EXPECT_EQ(body["message"], "body aborted");
}

TEST_F(FetchTest, CancelledParentRequestEndsItsFetches) {
  Origin origin;
  ASSERT_NE(origin.port(), 0);
  ServerProcess server(script(), {"--workers", "1", "--wall-limit", "500"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  auto r = httpGet(server.baseUrl() + "/hang?url=" + encode(origin.url("/stall")));
  EXPECT_EQ(r.status, 504);
  auto line = server.waitForLine(
      [](const std::string& l) { return l.find("hang-fetch ended") != std::string::npos; });
  ASSERT_TRUE(line) << server.output();
  EXPECT_TRUE(has(*line, "TypeError")) << *line;
  EXPECT_TRUE(has(*line, "exceeded its time limit")) << *line;
  // The worker keeps serving.
  auto [status, got] = ask(server, "/get", origin.url("/hello"));
  EXPECT_EQ(status, 200) << got.dump();
}

TEST_F(FetchTest, AClientThatLeavesEndsItsRequestsFetches) {
  Origin origin;
  ASSERT_NE(origin.port(), 0);
  ServerProcess server(script(), {"--workers", "1"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  // The client gives up (and closes its connection) while the handler awaits its fetch.
  auto r = httpRequest("GET", server.baseUrl() + "/hang?url=" + encode(origin.url("/stall")), {},
                       {}, std::chrono::milliseconds(500));
  EXPECT_EQ(r.status, 0);
  auto line = server.waitForLine(
      [](const std::string& l) { return l.find("hang-fetch ended") != std::string::npos; });
  ASSERT_TRUE(line) << server.output();
  EXPECT_TRUE(has(*line, "TypeError")) << *line;
  EXPECT_TRUE(has(*line, "went away")) << *line;
  auto [status, got] = ask(server, "/get", origin.url("/hello"));
  EXPECT_EQ(status, 200) << got.dump();
}

TEST_F(FetchTest, ContextRebuildAbortsItsFetches) {
  Origin origin;
  ASSERT_NE(origin.port(), 0);
  ServerProcess server(script(),
                       {"--workers", "1", "--cpu-limit", "100", "--admin-listen", "127.0.0.1:0"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  auto admin = server.waitForLine(
      [](const std::string& l) { return l.find("msg=\"admin listening\"") != std::string::npos; });
  ASSERT_TRUE(admin);
  std::string metrics = "http://" + logField(*admin, "address") + "/metrics";

  // The handler starts a fetch that never answers, then exceeds the CPU limit: its context is
  // rebuilt, and the fetch, whose promise belonged to that context, is aborted in the supervisor.
  auto r = httpGet(server.baseUrl() + "/spin?url=" + encode(origin.url("/stall-head")));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.headers["isolated-error"], "cpu-limit");
  std::string text;
  for (int i = 0; i < 100; ++i) {
    text = httpGet(metrics).body;
    if (metric(text, "isolated_fetches_total{outcome=\"aborted\"}") == 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling the exposition
  }
  EXPECT_EQ(metric(text, "isolated_fetches_total{outcome=\"aborted\"}"), 1) << text;
  EXPECT_EQ(metric(text, "isolated_fetches_in_flight"), 0) << text;
  // The rebuilt context fetches again.
  auto [status, got] = ask(server, "/get", origin.url("/hello"));
  EXPECT_EQ(status, 200) << got.dump();
  text = httpGet(metrics).body;
  EXPECT_EQ(metric(text, "isolated_fetches_total{outcome=\"completed\"}"), 1) << text;
}

// A fetched body read whole, or returned as the response, is taken chunk by chunk without a
// stream: in `context` isolation (a fresh context per request) the streams ponyfill, loaded on
// first use, is never loaded for it.
TEST_F(FetchTest, HttpsWithTestCa) {
  char pattern[] = "/tmp/isolated-fetch-ca-XXXXXX";
  std::string dir = mkdtemp(pattern);
  std::string script = "cd " + dir +
                       " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
                       "-nodes -keyout ca.key -out ca.pem -days 1 -subj '/CN=isolated test CA' "
                       "2>/dev/null"
                       " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
                       "-keyout server.key -out server.csr -subj '/CN=localhost' 2>/dev/null"
                       " && printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > ext.cnf"
                       " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key "
                       "-CAcreateserial -out server.pem -days 1 -extfile ext.cnf 2>/dev/null";
  ASSERT_EQ(std::system(script.c_str()), 0) << "openssl failed";
  {
    Origin origin({"--cert", dir + "/server.pem", "--key", dir + "/server.key"});
    ASSERT_NE(origin.port(), 0);
    std::string target = origin.url("/hello", "localhost", "https");

    ServerProcess trusted(FetchTest::script(),
                          {"--workers", "1", "--fetch-ca-file", dir + "/ca.pem"});
    ASSERT_NE(trusted.waitReady(), 0) << trusted.output();
    auto [status, got] = ask(trusted, "/get", target);
    EXPECT_EQ(status, 200) << got.dump();
    EXPECT_EQ(got["body"], "hello from origin");

    ServerProcess system(FetchTest::script(), {"--workers", "1"});
    ASSERT_NE(system.waitReady(), 0) << system.output();
    auto [refusedStatus, refused] = ask(system, "/get", target);
    EXPECT_EQ(refusedStatus, 502);
    EXPECT_EQ(refused["name"], "TypeError");
    std::string message = contentOf(refused, "message");
    EXPECT_TRUE(has(message, "certificate")) << message;
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace isolated::test
