// Parsing route patterns, building the per-host rule lists and matching a request against them.
#include "supervisor/routing/route_table.h"

#include <algorithm>
#include <map>

namespace isolated {

namespace {

// A DNS name is at most 253 characters; longer Host headers can only match `*`.
constexpr size_t kMaxHostBytes = 253;
constexpr size_t kMaxPathBytes = 2048;

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool hostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

// Printable ASCII other than space, '?' (a query is not part of the path) and '#'.
bool pathChar(char c) {
  return c > ' ' && c < 0x7f && c != '?' && c != '#';
}

std::string quoted(std::string_view pattern) {
  return "route '" + std::string(pattern) + "'";
}

// Checks an exact host or a wildcard suffix: dot-separated non-empty labels of host characters.
std::optional<std::string> hostError(std::string_view host) {
  if (host.empty()) return "the host is empty";
  if (host.size() > kMaxHostBytes) return "the host is longer than 253 characters";
  if (host.find(':') != std::string_view::npos) {
    return "a host has no port (requests match whatever port they arrived on)";
  }
  for (char c : host) {
    if (c == '*') return "'*' may only start a host, as '*.' or alone";
    if (!hostChar(c)) return std::string("'") + c + "' is not allowed in a host name";
  }
  if (host.front() == '.' || host.back() == '.' || host.find("..") != std::string_view::npos) {
    return "a host name has empty labels";
  }
  return std::nullopt;
}

// The Host header as the table keys it: lower-cased into `buffer`, without `:port`, brackets'
// port or a trailing dot. Empty when it cannot be a DNS name (too long).
std::string_view normalizeHost(std::string_view host, char (&buffer)[kMaxHostBytes + 1]) {
  if (!host.empty() && host.front() == '[') {
    // An IPv6 literal never equals a pattern host; only `*` can match it.
    return {};
  }
  if (auto colon = host.rfind(':'); colon != std::string_view::npos) host = host.substr(0, colon);
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.size() > kMaxHostBytes) return {};
  for (size_t i = 0; i < host.size(); ++i)
    buffer[i] = lower(host[i]);
  return {buffer, host.size()};
}

}  // namespace

std::string RoutePattern::text() const {
  std::string out;
  switch (hostKind) {
    case HostKind::kExact:
      out = host;
      break;
    case HostKind::kSuffix:
      out = "*." + host;
      break;
    case HostKind::kAny:
      out = "*";
      break;
  }
  out += path;
  if (prefix) out += '*';
  return out;
}

std::variant<RoutePattern, std::string> parseRoutePattern(std::string_view pattern) {
  if (pattern.empty())
    return std::string("a route is empty (expected HOST/PATH, e.g. 'example.com/*')");
  if (pattern.find("://") != std::string_view::npos) {
    return quoted(pattern) +
           ": a route has no scheme (write 'example.com/*', not 'https://example.com/*')";
  }
  size_t slash = pattern.find('/');
  if (slash == std::string_view::npos) {
    return quoted(pattern) + ": expected HOST/PATH (e.g. 'example.com/*'), found no '/'";
  }
  std::string_view host = pattern.substr(0, slash);
  std::string_view path = pattern.substr(slash);

  RoutePattern out;
  if (host == "*") {
    out.hostKind = RoutePattern::HostKind::kAny;
  } else {
    if (host.starts_with("*.")) {
      out.hostKind = RoutePattern::HostKind::kSuffix;
      host.remove_prefix(2);
    } else {
      out.hostKind = RoutePattern::HostKind::kExact;
    }
    if (host.empty() && out.hostKind == RoutePattern::HostKind::kExact) {
      return quoted(pattern) + ": the host is empty (use '*' for any host)";
    }
    if (auto error = hostError(host)) return quoted(pattern) + ": " + *error;
    out.host.reserve(host.size());
    for (char c : host)
      out.host += lower(c);
  }

  if (path.size() > kMaxPathBytes) {
    return quoted(pattern) + ": the path is longer than " + std::to_string(kMaxPathBytes) +
           " characters";
  }
  if (path.ends_with('*')) {
    out.prefix = true;
    path.remove_suffix(1);
  }
  for (char c : path) {
    if (c == '*') return quoted(pattern) + ": '*' may only end a path";
    if (!pathChar(c)) {
      return quoted(pattern) + ": the path may not contain " +
             (c == '?'   ? std::string("a query ('?')")
              : c == '#' ? std::string("a fragment ('#')")
                         : std::string("spaces or control characters"));
    }
  }
  out.path = std::string(path);
  return out;
}

std::variant<RouteTable, RouteError> RouteTable::build(std::span<const AppRoutes> apps) {
  RouteTable table;
  // Canonical text → (entry, pattern) that claimed it, to name both sides of a clash.
  std::map<std::string, std::pair<size_t, size_t>> seen;
  for (size_t e = 0; e < apps.size(); ++e) {
    const AppRoutes& app = apps[e];
    for (size_t p = 0; p < app.patterns.size(); ++p) {
      auto parsed = parseRoutePattern(app.patterns[p]);
      if (auto* error = std::get_if<std::string>(&parsed)) return RouteError{*error, e, p};
      RoutePattern& pattern = std::get<RoutePattern>(parsed);
      auto [it, inserted] = seen.emplace(pattern.text(), std::make_pair(e, p));
      if (!inserted) {
        const AppRoutes& first = apps[it->second.first];
        std::string message = it->second.first == e
                                  ? quoted(app.patterns[p]) + " is listed twice for app '" +
                                        std::string(app.name) + "'"
                                  : quoted(app.patterns[p]) + " belongs to both app '" +
                                        std::string(first.name) + "' and app '" +
                                        std::string(app.name) + "'";
        return RouteError{std::move(message), e, p};
      }
      Rules* rules = &table.any_;
      if (pattern.hostKind == RoutePattern::HostKind::kExact) {
        rules = &table.exact_[pattern.host];
      } else if (pattern.hostKind == RoutePattern::HostKind::kSuffix) {
        rules = &table.suffix_[pattern.host];
      }
      rules->push_back(Rule{std::move(pattern.path), pattern.prefix, app.app});
      ++table.rules_;
    }
  }
  // A total order (longer path first, exact before prefix, then the text), so a plain sort
  // gives one answer and no rule's place depends on the order apps were listed. Two rules left
  // equal by length and kind never match the same path unless their texts are equal.
  // (std::sort, not std::stable_sort: GCC 12's stable_sort buffer trips ASan's
  // alloc-dealloc-mismatch check in the sanitizer build, docs/fuzzing.md.)
  auto order = [](const Rule& a, const Rule& b) {
    if (a.path.size() != b.path.size()) return a.path.size() > b.path.size();
    if (a.prefix != b.prefix) return !a.prefix;
    return a.path < b.path;
  };
  for (auto* map : {&table.exact_, &table.suffix_}) {
    for (auto& [host, rules] : *map)
      std::sort(rules.begin(), rules.end(), order);
  }
  std::sort(table.any_.begin(), table.any_.end(), order);
  return table;
}

std::optional<uint32_t> RouteTable::matchPath(const Rules& rules, std::string_view path) {
  // Sorted most specific first, so the first rule that matches is the best one.
  for (const Rule& rule : rules) {
    if (rule.prefix ? path.starts_with(rule.path) : path == rule.path) return rule.app;
  }
  return std::nullopt;
}

std::optional<uint32_t> RouteTable::match(std::string_view host, std::string_view path) const {
  if (auto query = path.find_first_of("?#"); query != std::string_view::npos) {
    path = path.substr(0, query);
  }
  char buffer[kMaxHostBytes + 1];
  std::string_view name = normalizeHost(host, buffer);
  if (!name.empty()) {
    if (!exact_.empty()) {
      if (auto it = exact_.find(name); it != exact_.end()) {
        if (auto app = matchPath(it->second, path)) return app;
      }
    }
    if (!suffix_.empty()) {
      // Proper suffixes after each dot, longest first: `a.b.c` tries `b.c`, then `c`.
      for (size_t dot = name.find('.'); dot != std::string_view::npos;
           dot = name.find('.', dot + 1)) {
        if (auto it = suffix_.find(name.substr(dot + 1)); it != suffix_.end()) {
          if (auto app = matchPath(it->second, path)) return app;
        }
      }
    }
  }
  return matchPath(any_, path);
}

}  // namespace isolated
