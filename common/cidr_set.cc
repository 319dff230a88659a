// CIDR parsing and matching for --fetch-deny.
#include "common/cidr_set.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

namespace isolated {

namespace {

std::array<uint8_t, 16> mappedV4(const in_addr& v4) {
  std::array<uint8_t, 16> out{};
  out[10] = 0xff;
  out[11] = 0xff;
  std::memcpy(out.data() + 12, &v4, 4);
  return out;
}

// The ranges `private` stands for. IPv4 ranges also cover their IPv4-mapped and NAT64 forms
// through match().
constexpr const char* kPrivatePreset[] = {
    "0.0.0.0/8",        // "this network"; 0.0.0.0 reaches the local host
    "10.0.0.0/8",       // RFC 1918
    "100.64.0.0/10",    // carrier-grade NAT (RFC 6598)
    "127.0.0.0/8",      // loopback
    "169.254.0.0/16",   // link-local, cloud metadata services
    "172.16.0.0/12",    // RFC 1918
    "192.0.0.0/24",     // IETF protocol assignments
    "192.0.2.0/24",     // documentation (TEST-NET-1)
    "192.168.0.0/16",   // RFC 1918
    "198.18.0.0/15",    // benchmarking
    "198.51.100.0/24",  // documentation (TEST-NET-2)
    "203.0.113.0/24",   // documentation (TEST-NET-3)
    "224.0.0.0/4",      // multicast
    "240.0.0.0/4",      // reserved, and the broadcast address
    "::/128",           // unspecified
    "::1/128",          // loopback
    "64:ff9b:1::/48",   // local-use NAT64 (RFC 8215)
    "100::/64",         // discard-only
    "2001:db8::/32",    // documentation
    "fc00::/7",         // unique-local
    "fe80::/10",        // link-local
    "fec0::/10",        // site-local (deprecated, still routed by some)
    "ff00::/8",         // multicast
};

bool isPreset(std::string_view entry) {
  if (entry.size() != 7) return false;
  for (size_t i = 0; i < entry.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(entry[i])) != "private"[i]) return false;
  }
  return true;
}

bool hasPrefix(const std::array<uint8_t, 16>& address, std::initializer_list<uint8_t> prefix) {
  return std::equal(prefix.begin(), prefix.end(), address.begin());
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

bool Cidr::contains(const std::array<uint8_t, 16>& candidate) const {
  unsigned full = prefixBits / 8;
  if (std::memcmp(address.data(), candidate.data(), full) != 0) return false;
  unsigned rest = prefixBits % 8;
  if (rest == 0) return true;
  auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (address[full] & mask) == (candidate[full] & mask);
}

namespace {

// One ADDRESS[/BITS] entry; `text` is what messages show for it.
std::variant<Cidr, std::string> parseRange(std::string_view entry, std::string text) {
  std::string bad = "'" + std::string(entry) + "' is not an address range";
  size_t slash = entry.find('/');
  std::string host(entry.substr(0, slash));
  Cidr cidr;
  cidr.text = std::move(text);
  unsigned maxBits = 0;
  in_addr v4{};
  in6_addr v6{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    cidr.address = mappedV4(v4);
    maxBits = 32;
  } else if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    std::memcpy(cidr.address.data(), &v6, 16);
    maxBits = 128;
  } else {
    return bad + " (expected an IPv4 or IPv6 address, optionally /BITS, or 'private')";
  }
  unsigned bits = maxBits;
  if (slash != std::string_view::npos) {
    std::string_view digits = entry.substr(slash + 1);
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), bits);
    if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size() ||
        bits > maxBits) {
      return bad + " (the prefix length must be 0 to " + std::to_string(maxBits) + ")";
    }
  }
  cidr.prefixBits = maxBits == 32 ? 96 + bits : bits;
  return cidr;
}

}  // namespace

std::variant<CidrSet, std::string> CidrSet::parse(std::string_view list) {
  CidrSet set;
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view entry = trim(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (entry.empty()) continue;
    if (isPreset(entry)) {
      for (const char* range : kPrivatePreset) {
        auto parsed = parseRange(range, std::string("private (") + range + ")");
        // The table is ours: a bad entry in it is a programming error.
        if (std::holds_alternative<std::string>(parsed)) std::abort();
        set.ranges_.push_back(std::get<Cidr>(std::move(parsed)));
      }
      continue;
    }
    auto parsed = parseRange(entry, std::string(entry));
    if (auto* error = std::get_if<std::string>(&parsed)) return std::move(*error);
    set.ranges_.push_back(std::get<Cidr>(std::move(parsed)));
  }
  return set;
}

const Cidr* CidrSet::match(const sockaddr* address) const {
  std::array<uint8_t, 16> candidate{};
  if (address->sa_family == AF_INET) {
    candidate = mappedV4(reinterpret_cast<const sockaddr_in*>(address)->sin_addr);
  } else if (address->sa_family == AF_INET6) {
    std::memcpy(candidate.data(), &reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr, 16);
  } else {
    return nullptr;
  }
  // The forms the same destination takes: itself; the IPv4 address a NAT64 address carries;
  // for the unspecified address, loopback, which is where Linux connects it.
  std::array<uint8_t, 16> forms[3] = {candidate};
  size_t count = 1;
  if (hasPrefix(candidate, {0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0})) {
    in_addr embedded{};
    std::memcpy(&embedded, candidate.data() + 12, 4);
    forms[count++] = mappedV4(embedded);
  }
  const std::array<uint8_t, 16> unspecified{};
  const std::array<uint8_t, 16> unspecifiedV4 = mappedV4(in_addr{});
  if (candidate == unspecified || candidate == unspecifiedV4) {
    forms[count++] = mappedV4(in_addr{htonl(INADDR_LOOPBACK)});
    std::array<uint8_t, 16> loopback6{};
    loopback6[15] = 1;
    forms[count++] = loopback6;
  }
  for (size_t i = 0; i < count; ++i) {
    for (const auto& range : ranges_) {
      if (range.contains(forms[i])) return &range;
    }
  }
  return nullptr;
}

std::string addressText(const sockaddr* address) {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (address->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(address)->sin_addr, buf, sizeof buf);
  } else if (address->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr, buf,
              sizeof buf);
  }
  return buf;
}

}  // namespace isolated
