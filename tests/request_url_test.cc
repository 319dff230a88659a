// The script's URL from a request-target and Host (supervisor/http/request_url.h): the target
// forms, and the Hosts the WHATWG URL parser would read differently than they were routed.
#include "supervisor/http/request_url.h"

#include <gtest/gtest.h>

namespace isolated::http {
namespace {

TEST(RequestUrlTest, TargetForms) {
  TargetParts origin = splitTarget("/a/b?c=1");
  EXPECT_TRUE(origin.valid);
  EXPECT_FALSE(origin.hasAuthority);
  EXPECT_EQ(origin.pathAndQuery, "/a/b?c=1");

  TargetParts asterisk = splitTarget("*");
  EXPECT_TRUE(asterisk.valid);
  EXPECT_EQ(asterisk.pathAndQuery, "/");

  TargetParts absolute = splitTarget("HTTP://example.com:8080/p?q");
  EXPECT_TRUE(absolute.valid);
  EXPECT_TRUE(absolute.hasAuthority);
  EXPECT_EQ(absolute.authority, "example.com:8080");
  EXPECT_EQ(absolute.pathAndQuery, "/p?q");

  TargetParts bare = splitTarget("https://example.com");
  EXPECT_TRUE(bare.valid);
  EXPECT_EQ(bare.pathAndQuery, "/");
  EXPECT_EQ(splitTarget("http://example.com?x").pathAndQuery, "?x");

  for (const char* refused : {"ftp://a/p", "http://a@b/p", "http://x%2fadmin/p", "http:///p",
                              "http://a:99999/", "http://[zz]/", "no-scheme"}) {
    EXPECT_FALSE(splitTarget(refused).valid) << refused;
  }
}

TEST(RequestUrlTest, HostsThatFitAUrl) {
  for (const char* host :
       {"example.com", "a", "a-b.c_d", "example.com:80", "127.0.0.1", "127.0.0.1:8080", "[::1]",
        "[::1]:443", "[2001:db8::1]", "x.y.z1a", "a:65535", "*.weird!$&'()+,;=~"}) {
    EXPECT_TRUE(hostFitsUrl(host)) << host;
  }
  for (const char* host : {"a%2fadmin", "%41", "[zz]", "[::1%25eth0]", "a:65536", "a:123456", ":80",
                           "1.2.3.999", "1.2.3", "foo.1", "0x7f.1", "1.2.3.4.", "a:8x", "a:x",
                           "256.1.1.1", "1.2.3.04x", "01.2.3.4", "1.2.3.00", "[::1]%"}) {
    EXPECT_FALSE(hostFitsUrl(host)) << host;
  }
}

}  // namespace
}  // namespace isolated::http
