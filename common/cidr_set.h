// A set of IPv4 and IPv6 address ranges in CIDR notation, for --fetch-deny: parsing with
// precise errors, and matching the socket address an outbound fetch is about to connect to.
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) match as the IPv4 address they carry, so a
// deny-list of IPv4 ranges cannot be bypassed through a dual-stack socket.
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
  // Parses "RANGE[,RANGE...]" where RANGE is ADDRESS/BITS or a bare ADDRESS (one host), IPv4
  // or IPv6. Returns the error, naming the bad entry, as a string.
  static std::variant<CidrSet, std::string> parse(std::string_view list);

  // The range (as written) that contains `address`, if any. Non-IP families never match.
  const Cidr* match(const sockaddr* address) const;
  bool empty() const { return ranges_.empty(); }
  const std::vector<Cidr>& ranges() const { return ranges_; }

 private:
  std::vector<Cidr> ranges_;
};

// The textual form of an IPv4 or IPv6 socket address (without the port), "?" otherwise.
std::string addressText(const sockaddr* address);

}  // namespace isolated
