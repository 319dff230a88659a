// RFC 9112 checks on a split request head: see request_checks.h.
#include "supervisor/http/request_checks.h"

#include <array>
#include <cstring>

namespace isolated::http {
namespace {

constexpr bool isAlpha(unsigned char c) {
  return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}
constexpr bool isDigit(unsigned char c) {
  return c >= '0' && c <= '9';
}
constexpr bool isHex(unsigned char c) {
  return isDigit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

constexpr std::array<bool, 256> makeTable(std::string_view extra, bool alnum) {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c)
    t[c] = alnum && (isAlpha(c) || isDigit(c));
  for (char c : extra)
    t[static_cast<unsigned char>(c)] = true;
  return t;
}

constexpr auto kTchar = makeTable("!#$%&'*+-.^_`|~", true);
// unreserved and sub-delims (RFC 3986): what a reg-name holds besides pct-encoded triplets.
constexpr auto kRegName = makeTable("-._~!$&'()*+,;=", true);
// field-value bytes (RFC 9110 §5.5): everything but the controls other than HTAB, and DEL.
constexpr std::array<bool, 256> kFieldValue = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c)
    t[c] = (c >= 0x20 || c == '\t') && c != 0x7f;
  return t;
}();

// Skips the empty lines RFC 9112 §2.2 lets a server ignore before a request line.
std::string_view skipLeadingEmptyLines(std::string_view head) {
  size_t i = 0;
  while (i < head.size() && (head[i] == '\r' || head[i] == '\n'))
    ++i;
  return head.substr(i);
}

}  // namespace

bool isToken(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (!kTchar[c]) return false;
  }
  return true;
}

bool isFieldValue(std::string_view value) {
  for (unsigned char c : value) {
    if (!kFieldValue[c]) return false;
  }
  return true;
}

bool isValidHost(std::string_view host) {
  size_t i = 0;
  if (!host.empty() && host[0] == '[') {
    size_t close = host.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    for (size_t j = 1; j < close; ++j) {
      unsigned char c = host[j];
      if (!kRegName[c] && c != ':') return false;
    }
    i = close + 1;
  } else {
    while (i < host.size() && host[i] != ':') {
      unsigned char c = host[i];
      if (c == '%') {
        if (i + 2 >= host.size() || !isHex(host[i + 1]) || !isHex(host[i + 2])) return false;
        i += 3;
        continue;
      }
      if (!kRegName[c]) return false;
      ++i;
    }
  }
  if (i == host.size()) return true;
  if (host[i] != ':') return false;
  for (++i; i < host.size(); ++i) {
    if (!isDigit(host[i])) return false;
  }
  return true;
}

bool isValidTarget(std::string_view target, bool isOptions) {
  if (target.empty()) return false;
  for (unsigned char c : target) {
    if (c < 0x21 || c > 0x7e || c == '#') return false;
  }
  if (target[0] == '/') return true;
  if (target == "*") return isOptions;
  // absolute-form: scheme "://" ...
  if (!isAlpha(target[0])) return false;
  size_t i = 1;
  while (i < target.size() && (isAlpha(target[i]) || isDigit(target[i]) || target[i] == '+' ||
                               target[i] == '-' || target[i] == '.')) {
    ++i;
  }
  return target.substr(i).starts_with("://");
}

bool headLinesValid(std::string_view head) {
  head = skipLeadingEmptyLines(head);
  if (isHttp09RequestLine(head)) return false;
  // Line by line with memchr rather than byte by byte: this runs on every request head.
  const char* p = head.data();
  const char* end = p + head.size();
  while (const char* lf = static_cast<const char*>(std::memchr(p, '\n', end - p))) {
    // A line ends with CRLF: a bare LF is refused (RFC 9112 §2.2 allows either; llhttp refuses,
    // so they agree), and so is a CR anywhere else in the line (a bare CR).
    if (lf == p || lf[-1] != '\r' || std::memchr(p, '\r', lf - 1 - p) != nullptr) return false;
    p = lf + 1;
    // A line that starts with whitespace: obs-fold, or whitespace before the first field.
    if (p < end && (*p == ' ' || *p == '\t')) return false;
  }
  // The unfinished last line: a CR as its last byte is not judged yet.
  const char* cr = static_cast<const char*>(std::memchr(p, '\r', end - p));
  return cr == nullptr || cr == end - 1;
}

bool isHttp09RequestLine(std::string_view head) {
  head = skipLeadingEmptyLines(head);
  size_t lineEnd = head.find('\n');
  if (lineEnd == std::string_view::npos) return false;
  std::string_view line = head.substr(0, lineEnd);
  if (line.ends_with('\r')) line.remove_suffix(1);
  size_t space = line.rfind(' ');
  return space == std::string_view::npos || !line.substr(space + 1).starts_with("HTTP/");
}

bool isChunkedOnly(std::string_view value) {
  auto isOws = [](char c) { return c == ' ' || c == '\t'; };
  while (!value.empty() && isOws(value.front()))
    value.remove_prefix(1);
  while (!value.empty() && isOws(value.back()))
    value.remove_suffix(1);
  if (value.size() != 7) return false;
  static constexpr char kChunked[] = "chunked";
  for (size_t i = 0; i < 7; ++i) {
    if ((value[i] | 0x20) != kChunked[i]) return false;
  }
  return true;
}

}  // namespace isolated::http
