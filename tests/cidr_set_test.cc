// CidrSet: parsing --fetch-deny and matching socket addresses, IPv4, IPv6 and IPv4-mapped.
#include "common/cidr_set.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <string>
#include <variant>

namespace isolated {
namespace {

CidrSet parseOk(const std::string& text) {
  auto parsed = CidrSet::parse(text);
  EXPECT_TRUE(std::holds_alternative<CidrSet>(parsed)) << std::get<std::string>(parsed);
  return std::get<CidrSet>(std::move(parsed));
}

std::string parseError(const std::string& text) {
  auto parsed = CidrSet::parse(text);
  return std::holds_alternative<std::string>(parsed) ? std::get<std::string>(parsed) : "";
}

// The range text matching `address` ("" for none).
std::string matchOf(const CidrSet& set, const std::string& address) {
  sockaddr_storage storage{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
  } else if (inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
  } else {
    ADD_FAILURE() << "bad test address " << address;
    return "";
  }
  const Cidr* range = set.match(reinterpret_cast<const sockaddr*>(&storage));
  return range != nullptr ? range->text : "";
}

TEST(CidrSetTest, MatchesIpv4Prefixes) {
  CidrSet set = parseOk("127.0.0.0/8, 10.0.0.0/8,172.16.0.0/12,192.168.1.7");
  EXPECT_EQ(matchOf(set, "127.0.0.1"), "127.0.0.0/8");
  EXPECT_EQ(matchOf(set, "127.255.255.254"), "127.0.0.0/8");
  EXPECT_EQ(matchOf(set, "128.0.0.1"), "");
  EXPECT_EQ(matchOf(set, "172.31.255.255"), "172.16.0.0/12");
  EXPECT_EQ(matchOf(set, "172.32.0.0"), "");
  EXPECT_EQ(matchOf(set, "172.15.255.255"), "");
  EXPECT_EQ(matchOf(set, "192.168.1.7"), "192.168.1.7");
  EXPECT_EQ(matchOf(set, "192.168.1.8"), "");
  EXPECT_EQ(matchOf(set, "8.8.8.8"), "");
}

TEST(CidrSetTest, Ipv4RangesMatchIpv4MappedIpv6) {
  CidrSet set = parseOk("127.0.0.0/8");
  EXPECT_EQ(matchOf(set, "::ffff:127.0.0.1"), "127.0.0.0/8");
  EXPECT_EQ(matchOf(set, "::ffff:8.8.8.8"), "");
  // ::1 is IPv6 loopback, not in an IPv4 range.
  EXPECT_EQ(matchOf(set, "::1"), "");
}

TEST(CidrSetTest, MatchesIpv6Prefixes) {
  CidrSet set = parseOk("::1/128,fc00::/7,fe80::/10");
  EXPECT_EQ(matchOf(set, "::1"), "::1/128");
  EXPECT_EQ(matchOf(set, "::2"), "");
  EXPECT_EQ(matchOf(set, "fd12:3456::1"), "fc00::/7");
  EXPECT_EQ(matchOf(set, "fe80::1"), "fe80::/10");
  EXPECT_EQ(matchOf(set, "febf::1"), "fe80::/10");
  EXPECT_EQ(matchOf(set, "fec0::1"), "");
  EXPECT_EQ(matchOf(set, "2001:db8::1"), "");
  EXPECT_EQ(matchOf(set, "127.0.0.1"), "");
}

TEST(CidrSetTest, ZeroPrefixMatchesItsWholeFamily) {
  CidrSet v4 = parseOk("0.0.0.0/0");
  EXPECT_EQ(matchOf(v4, "1.2.3.4"), "0.0.0.0/0");
  EXPECT_EQ(matchOf(v4, "2001:db8::1"), "");
  CidrSet v6 = parseOk("::/0");
  EXPECT_EQ(matchOf(v6, "2001:db8::1"), "::/0");
}

TEST(CidrSetTest, EmptyListMatchesNothing) {
  CidrSet set = parseOk("");
  EXPECT_TRUE(set.empty());
  EXPECT_EQ(matchOf(set, "127.0.0.1"), "");
}

TEST(CidrSetTest, RejectsMalformedEntriesByName) {
  EXPECT_NE(parseError("127.0.0.0/33").find("'127.0.0.0/33'"), std::string::npos);
  EXPECT_NE(parseError("127.0.0.0/33").find("0 to 32"), std::string::npos);
  EXPECT_NE(parseError("::1/129").find("0 to 128"), std::string::npos);
  EXPECT_NE(parseError("10.0.0.0/8,localhost").find("'localhost'"), std::string::npos);
  EXPECT_NE(parseError("10.0.0.0/").find("prefix length"), std::string::npos);
  EXPECT_NE(parseError("10.0.0.0/8x").find("prefix length"), std::string::npos);
  EXPECT_NE(parseError("300.1.1.1/8").find("'300.1.1.1/8'"), std::string::npos);
}

TEST(CidrSetTest, UnspecifiedAddressesMatchAsLoopback) {
  // connect() to 0.0.0.0 or :: reaches the local host on Linux.
  CidrSet v4 = parseOk("127.0.0.0/8");
  EXPECT_EQ(matchOf(v4, "0.0.0.0"), "127.0.0.0/8");
  EXPECT_EQ(matchOf(v4, "::ffff:0.0.0.0"), "127.0.0.0/8");
  EXPECT_EQ(matchOf(v4, "::"), "127.0.0.0/8");
  EXPECT_EQ(matchOf(v4, "0.0.0.1"), "");
  CidrSet v6 = parseOk("::1");
  EXPECT_EQ(matchOf(v6, "::"), "::1");
  EXPECT_EQ(matchOf(v6, "0.0.0.0"), "::1");
}

TEST(CidrSetTest, Nat64AddressesMatchAsTheIpv4TheyCarry) {
  CidrSet set = parseOk("10.0.0.0/8,169.254.169.254");
  EXPECT_EQ(matchOf(set, "64:ff9b::10.1.2.3"), "10.0.0.0/8");
  EXPECT_EQ(matchOf(set, "64:ff9b::a9fe:a9fe"), "169.254.169.254");
  EXPECT_EQ(matchOf(set, "64:ff9b::8.8.8.8"), "");
  // Only the well-known /96 carries an address in its last 32 bits.
  EXPECT_EQ(matchOf(set, "64:ff9b:0:0:0:1:a00:1"), "");
}

TEST(CidrSetTest, PrivatePresetCoversEveryNonPublicForm) {
  CidrSet set = parseOk("private");
  for (const char* address : {"127.0.0.1",
                              "127.1.2.3",
                              "10.0.0.1",
                              "172.16.5.4",
                              "172.31.255.255",
                              "192.168.0.1",
                              "169.254.169.254",
                              "100.64.0.1",
                              "100.127.255.255",
                              "0.0.0.0",
                              "0.1.2.3",
                              "224.0.0.1",
                              "239.255.255.250",
                              "255.255.255.255",
                              "::1",
                              "::",
                              "fc00::1",
                              "fd12:3456::1",
                              "fe80::1",
                              "ff02::1",
                              "::ffff:127.0.0.1",
                              "::ffff:10.1.1.1",
                              "::ffff:169.254.169.254",
                              "::ffff:0.0.0.0",
                              "64:ff9b::127.0.0.1",
                              "64:ff9b::192.168.1.1",
                              "64:ff9b:1::1"}) {
    EXPECT_NE(matchOf(set, address), "") << address;
  }
  for (const char* address :
       {"8.8.8.8", "1.1.1.1", "100.63.255.255", "100.128.0.0", "172.32.0.1", "2606:4700::1111",
        "::ffff:8.8.8.8", "64:ff9b::8.8.8.8", "11.0.0.1"}) {
    EXPECT_EQ(matchOf(set, address), "") << address;
  }
  EXPECT_EQ(matchOf(set, "10.9.8.7"), "private (10.0.0.0/8)");
}

TEST(CidrSetTest, PresetMixesWithRangesInAnyCase) {
  CidrSet set = parseOk("8.8.8.0/24, Private");
  EXPECT_EQ(matchOf(set, "8.8.8.8"), "8.8.8.0/24");
  EXPECT_EQ(matchOf(set, "127.0.0.1"), "private (127.0.0.0/8)");
  EXPECT_EQ(matchOf(set, "1.1.1.1"), "");
  EXPECT_NE(parseError("privat").find("'privat'"), std::string::npos);
  EXPECT_NE(parseError("private/8").find("'private/8'"), std::string::npos);
}

}  // namespace
}  // namespace isolated
