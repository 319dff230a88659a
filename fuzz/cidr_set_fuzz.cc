// Fuzz target: --fetch-deny lists (CidrSet::parse), and matching of the parsed set against
// addresses taken from the input's first bytes, in every family and form.
#include <netinet/in.h>

#include <cstring>
#include <string_view>
#include <variant>

#include "common/cidr_set.h"
#include "fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = isolated::CidrSet::parse(text);
  if (auto* set = std::get_if<isolated::CidrSet>(&parsed)) {
    sockaddr_in v4{};
    v4.sin_family = AF_INET;
    std::memcpy(&v4.sin_addr, data, std::min<size_t>(size, 4));
    set->match(reinterpret_cast<const sockaddr*>(&v4));
    sockaddr_in6 v6{};
    v6.sin6_family = AF_INET6;
    std::memcpy(&v6.sin6_addr, data, std::min<size_t>(size, 16));
    if (const isolated::Cidr* range = set->match(reinterpret_cast<const sockaddr*>(&v6))) {
      (void)range->text.size();
    }
    (void)isolated::addressText(reinterpret_cast<const sockaddr*>(&v6));
  }
  return 0;
}
