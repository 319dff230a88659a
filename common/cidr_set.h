// A set of IPv4 and IPv6 address ranges in CIDR notation, for --fetch-deny: parsing with
// precise errors, and matching the socket address an outbound fetch is about to connect to.
// Every form of an address is checked: IPv4-mapped IPv6 (::ffff:a.b.c.d) and NAT64
// (64:ff9b::a.b.c.d, RFC 6052's well-known prefix) also match as the IPv4 address they carry,
// and the unspecified addresses 0.0.0.0 and ::, which a connect() on Linux sends to the local
// host, also match as 127.0.0.1 and ::1. So a deny-list of IPv4 loopback cannot be bypassed
// through a dual-stack socket, a NAT64 gateway or 0.0.0.0.
//
// The entry `private` stands for every range that is not the public internet (see
// kPrivatePreset in cidr_set.cc: loopback, RFC 1918, link-local, CGNAT, unique-local,
// 0.0.0.0/8, multicast, reserved) and mixes with CIDRs: "private,203.0.113.0/24".
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace isolated {

struct Cidr {
  // IPv4 ranges are stored as IPv4-mapped IPv6 (::ffff:0:0/96 + the IPv4 prefix), so one
  // comparison serves both families.
  std::array<uint8_t, 16> address{};
  unsigned prefixBits = 0;  // of the 128-bit form
  std::string text;         // as written by the operator, for messages

  bool contains(const std::array<uint8_t, 16>& candidate) const;
};

class CidrSet {
 public:
  // Parses "RANGE[,RANGE...]" where RANGE is ADDRESS/BITS, a bare ADDRESS (one host), IPv4
  // or IPv6, or the preset `private`. Returns the error, naming the bad entry, as a string.
  static std::variant<CidrSet, std::string> parse(std::string_view list);

  // The range (as written; a preset's as "private (RANGE)") that contains `address` or another
  // form of it, if any. Non-IP families never match.
  const Cidr* match(const sockaddr* address) const;
  bool empty() const { return ranges_.empty(); }
  const std::vector<Cidr>& ranges() const { return ranges_; }

 private:
  std::vector<Cidr> ranges_;
};

// The textual form of an IPv4 or IPv6 socket address (without the port), "?" otherwise.
std::string addressText(const sockaddr* address);

}  // namespace isolated
