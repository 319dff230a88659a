// Small helpers for the listeners' addresses: the port a bound socket got (port 0 asks the
// kernel to choose) and the HOST:PORT text used in logs, with brackets around IPv6 hosts.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace isolated::supervisor {

// The local port of a bound IPv4 or IPv6 socket; 0 when it cannot be read.
uint16_t boundPort(int fd);
std::string formatHostPort(const std::string& host, uint16_t port);
// The IP address of a peer (IPv4 or IPv6, no port) as text; empty for another family.
std::string peerAddress(const sockaddr_storage& peer);

}  // namespace isolated::supervisor
