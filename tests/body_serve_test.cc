// Integration tests: request and response bodies that are streams, Blobs and FormData, through
// the real `isolated serve` binary on port 0 (tests/scripts/bodies.js).
#include <gtest/gtest.h>

#include <string>

#include "cpu_room.h"
#include "http_client.h"
#include "server_process.h"

namespace isolated::test {
namespace {

std::string script(const std::string& name) {
  return std::string(ISOLATED_TEST_SCRIPTS) + "/" + name;
}

class BodyServeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // The handlers are the first users of the stream modules (tests/cpu_room.h).
    server_ = new ServerProcess(script("bodies.js"),
                                isolated::testing::withCpuRoomForFirstUse({"--workers", "1"}));
    ASSERT_NE(server_->waitReady(), 0) << server_->output();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static std::string url(const std::string& path) { return server_->baseUrl() + path; }
  static ServerProcess* server_;
};

ServerProcess* BodyServeTest::server_ = nullptr;

TEST_F(BodyServeTest, StreamBodyIsSentWhole) {
  auto r = httpGet(url("/stream"));
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body, "one two three\n");
  EXPECT_EQ(r.headers["content-type"], "text/plain");
}

TEST_F(BodyServeTest, BlobBodyCarriesItsType) {
  auto r = httpGet(url("/blob"));
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body, "blob body\n");
  EXPECT_EQ(r.headers["content-type"], "text/x-blob");
}

TEST_F(BodyServeTest, MultipartRequestParses) {
  const std::string body =
      "--BOUNDARY\r\n"
      "Content-Disposition: form-data; name=\"field\"\r\n\r\n"
      "value\r\n"
      "--BOUNDARY\r\n"
      "Content-Disposition: form-data; name=\"upload\"; filename=\"a.txt\"\r\n"
      "Content-Type: text/markdown\r\n\r\n"
      "# file\r\n"
      "--BOUNDARY--\r\n";
  auto r = httpRequest("POST", url("/form"), body,
                       {{"content-type", "multipart/form-data; boundary=BOUNDARY"}});
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(
      r.body,
      R"([["field","value"],["upload",{"file":"a.txt","type":"text/markdown","text":"# file"}]])");
}

TEST_F(BodyServeTest, UrlencodedRequestParses) {
  auto r = httpRequest("POST", url("/form"), "a=1&b=two+words",
                       {{"content-type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body, R"([["a","1"],["b","two words"]])");
}

TEST_F(BodyServeTest, FormDataResponseIsMultipart) {
  auto r = httpGet(url("/form-out"));
  EXPECT_EQ(r.status, 200) << r.error;
  const std::string type = r.headers["content-type"];
  const std::string prefix = "multipart/form-data; boundary=";
  ASSERT_EQ(type.rfind(prefix, 0), 0u) << type;
  const std::string boundary = type.substr(prefix.size());
  EXPECT_EQ(r.body, "--" + boundary +
                        "\r\nContent-Disposition: form-data; name=\"greeting\"\r\n\r\nhi\r\n--" +
                        boundary + "--\r\n");
}

TEST_F(BodyServeTest, RequestBodyStreamsThroughTransforms) {
  auto r = httpRequest("POST", url("/upper"), "shout this \xC3\xA9", {});
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body, "SHOUT THIS \xC3\x89");
}

TEST_F(BodyServeTest, ErroredStreamBodyIsA500AndTheWorkerGoesOn) {
  auto r = httpGet(url("/stream-error"));
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(httpGet(url("/blob")).status, 200);
}

TEST_F(BodyServeTest, PassedOnBodyStreamKeepsBytesAndHeaders) {
  auto r = httpGet(url("/rewrap"));
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body, "rewrapped\n");
  EXPECT_EQ(r.headers["content-type"], "text/x-inner");
}

TEST_F(BodyServeTest, AStreamBodyLargerThanAnIpcMessageStreamsOut) {
  // Stream bodies go out chunk by chunk (ipc/protocol.h rule 8), so no message limit applies.
  auto r = httpGet(url("/stream-huge"));
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body.size(), 49u << 20);
  EXPECT_EQ(r.headers["transfer-encoding"], "chunked");
  EXPECT_EQ(httpGet(url("/stream")).body, "one two three\n");
}

}  // namespace
}  // namespace isolated::test
