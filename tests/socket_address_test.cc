// Address formatting (supervisor/socket_address.h): the client address every RequestStart
// carries and the logs show, formatted without sprintf for IPv4.
#include "supervisor/socket_address.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

namespace isolated::supervisor {
namespace {

sockaddr_storage v4(const char* text) {
  sockaddr_storage storage{};
  auto& in = reinterpret_cast<sockaddr_in&>(storage);
  in.sin_family = AF_INET;
  EXPECT_EQ(inet_pton(AF_INET, text, &in.sin_addr), 1) << text;
  return storage;
}

TEST(SocketAddress, FormatsIpv4AsInetNtopDoes) {
  for (const char* text :
       {"0.0.0.0", "127.0.0.1", "10.0.0.255", "192.168.100.7", "255.255.255.255", "1.22.133.4"}) {
    EXPECT_EQ(peerAddress(v4(text)), text);
  }
}

TEST(SocketAddress, FormatsIpv6AndNothingElse) {
  sockaddr_storage storage{};
  auto& in6 = reinterpret_cast<sockaddr_in6&>(storage);
  in6.sin6_family = AF_INET6;
  ASSERT_EQ(inet_pton(AF_INET6, "2001:db8::1", &in6.sin6_addr), 1);
  EXPECT_EQ(peerAddress(storage), "2001:db8::1");
  sockaddr_storage local{};
  local.ss_family = AF_UNIX;
  EXPECT_EQ(peerAddress(local), "");
}

}  // namespace
}  // namespace isolated::supervisor
