// CIDR parsing and matching for --fetch-deny.
#include "common/cidr_set.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>

namespace isolated {

namespace {

std::array<uint8_t, 16> mappedV4(const in_addr& v4) {
  std::array<uint8_t, 16> out{};
  out[10] = 0xff;
  out[11] = 0xff;
  std::memcpy(out.data() + 12, &v4, 4);
  return out;
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

std::variant<CidrSet, std::string> CidrSet::parse(std::string_view list) {
  CidrSet set;
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view entry = trim(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (entry.empty()) continue;
    std::string bad = "'" + std::string(entry) + "' is not an address range";
    size_t slash = entry.find('/');
    std::string host(entry.substr(0, slash));
    Cidr cidr;
    cidr.text = std::string(entry);
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
      return bad + " (expected an IPv4 or IPv6 address, optionally /BITS)";
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
    set.ranges_.push_back(std::move(cidr));
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
  for (const auto& range : ranges_) {
    if (range.contains(candidate)) return &range;
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
