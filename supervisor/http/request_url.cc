// The script's URL from a request-target and Host: see request_url.h.
#include "supervisor/http/request_url.h"

#include <strings.h>

#include <charconv>
#include <string>

#include "supervisor/http/request_checks.h"

namespace isolated::http {

namespace {

// A loop, not find_first_not_of: this runs for every request, and the library's search of a
// ten-character set per byte cost more than the rest of hostFitsUrl.
bool isDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// The decimal value of `digits` (all digits, at most 5 of them); from_chars, since this runs for
// every request and stoul would copy into a std::string and go through the locale.
unsigned decimal(std::string_view digits) {
  unsigned value = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), value);
  return value;
}

}  // namespace

bool hostFitsUrl(std::string_view host) {
  // One forward scan for the usual host (a name or an IPv4 address, maybe a port): this runs for
  // every request.
  std::string_view name = host;
  std::string_view port;
  if (host.starts_with('[')) {
    if (host.find('%') != std::string_view::npos) return false;
    size_t close = host.find(']');
    name = host.substr(0, close + 1);
    if (name.substr(1, name.size() - 2).find_first_not_of("0123456789abcdefABCDEF:.") !=
        std::string_view::npos) {
      return false;
    }
    if (close + 1 < host.size()) port = host.substr(close + 2);
  } else {
    size_t i = 0;
    for (; i < host.size() && host[i] != ':'; ++i) {
      if (host[i] == '%') return false;
    }
    name = host.substr(0, i);
    if (i < host.size()) port = host.substr(i + 1);
  }
  if (name.empty()) return false;
  if (!port.empty() && (port.size() > 5 || !isDigits(port) || decimal(port) > 65535)) return false;
  if (name.starts_with('[')) return true;
  std::string_view last = name.ends_with('.') ? name.substr(0, name.size() - 1) : name;
  size_t lastDot = last.rfind('.');
  last.remove_prefix(lastDot == std::string_view::npos ? 0 : lastDot + 1);
  if (last.empty() || !(last[0] >= '0' && last[0] <= '9')) return true;
  // Ends in a number: the URL parser reads it as an IPv4 address; only plain dotted quads pass
  // (a leading zero would be read as octal, and the script would see another host).
  int parts = 0;
  unsigned value = 0;
  size_t digits = 0;
  for (size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '.') {
      if (digits == 0 || digits > 3 || value > 255 || (digits > 1 && name[i - digits] == '0'))
        return false;
      ++parts;
      value = 0;
      digits = 0;
    } else if (name[i] >= '0' && name[i] <= '9') {
      value = value * 10 + static_cast<unsigned>(name[i] - '0');
      ++digits;
    } else {
      return false;
    }
  }
  return parts == 4;
}

TargetParts splitTarget(std::string_view target) {
  if (target.starts_with('/')) return {true, false, {}, target};
  if (target == "*") return {true, false, {}, "/"};
  TargetParts parts;
  size_t schemeEnd = target.find("://");
  if (schemeEnd == std::string_view::npos) return {false, false, {}, target};
  std::string_view scheme = target.substr(0, schemeEnd);
  std::string_view rest = target.substr(schemeEnd + 3);
  size_t pathStart = rest.find_first_of("/?");
  parts.hasAuthority = true;
  parts.authority = rest.substr(0, pathStart);
  parts.pathAndQuery = pathStart == std::string_view::npos ? "/" : rest.substr(pathStart);
  bool http = (scheme.size() == 4 && strncasecmp(scheme.data(), "http", 4) == 0) ||
              (scheme.size() == 5 && strncasecmp(scheme.data(), "https", 5) == 0);
  parts.valid = http && isValidHost(parts.authority) && hostFitsUrl(parts.authority);
  return parts;
}

}  // namespace isolated::http
