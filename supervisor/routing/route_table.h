// The route table: Cloudflare-style `host/path` patterns mapped to apps, and the lookup that
// picks the app of an incoming request. Pure logic (no libevent, no V8), so the config parser
// validates patterns with it and tests exercise it alone.
//
// Patterns: `HOST/PATH`. HOST is an exact name (`shop.example.com`), a wildcard `*.SUFFIX`
// (matches any name ending in `.SUFFIX`: `a.example.com` and `a.b.example.com`, never
// `example.com` itself) or `*` (any host). PATH starts with `/` and is exact, or ends with `*`
// and is a prefix (`/shop/*` matches `/shop/` and `/shop/a/b`). No scheme, no port, no query.
//
// The most specific rule wins: an exact host over a wildcard host, a longer wildcard suffix over
// a shorter one, a wildcard over `*`; for rules of the same host, a longer path over a shorter
// one and an exact path over a prefix of the same length. A host whose rules match no path
// falls through to the less specific hosts.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

namespace isolated {

// One parsed pattern, in canonical form (host lower-cased).
struct RoutePattern {
  enum class HostKind : uint8_t { kExact, kSuffix, kAny };
  HostKind hostKind = HostKind::kAny;
  // kExact: the name; kSuffix: the suffix without `*.`; kAny: empty.
  std::string host;
  // The path without its trailing `*` when `prefix`.
  std::string path;
  bool prefix = false;

  // The canonical text (`*.example.com/shop/*`): equal for patterns that match the same.
  std::string text() const;
  bool operator==(const RoutePattern&) const = default;
};

// Parses one pattern; the error says what is wrong with it ("route 'https://x/*': ...").
std::variant<RoutePattern, std::string> parseRoutePattern(std::string_view pattern);

// The routes of one app, as given to RouteTable::build. `name` appears only in error messages.
struct AppRoutes {
  uint32_t app = 0;
  std::string_view name;
  std::span<const std::string> patterns;
};

// Why a table could not be built: the message, and which input entry and pattern caused it
// (indexes into build()'s input), so that a config parser can point at the line.
struct RouteError {
  std::string message;
  size_t entry = 0;
  size_t pattern = 0;
};

// Immutable once built: the supervisor builds a new table and swaps it whole, so readers on
// any thread may share one through a shared_ptr<const RouteTable> without locks.
class RouteTable {
 public:
  // Every pattern must parse and no pattern (after canonicalisation) may appear twice, within
  // an app or across apps.
  static std::variant<RouteTable, RouteError> build(std::span<const AppRoutes> apps);

  // The app whose rule matches best, or nullopt. `host` is the Host header (any `:port` and a
  // trailing dot are ignored; compared case-insensitively); `path` the request target's path
  // (a `?query` is ignored). Allocates nothing.
  std::optional<uint32_t> match(std::string_view host, std::string_view path) const;

  size_t size() const { return rules_; }

 private:
  struct Rule {
    std::string path;
    bool prefix = false;
    uint32_t app = 0;
  };
  // Rules of one host key, most specific path first.
  using Rules = std::vector<Rule>;
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using HostMap = std::unordered_map<std::string, Rules, Hash, std::equal_to<>>;

  static std::optional<uint32_t> matchPath(const Rules& rules, std::string_view path);

  HostMap exact_;
  HostMap suffix_;
  Rules any_;
  size_t rules_ = 0;
};

}  // namespace isolated
