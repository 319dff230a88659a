// The route table: pattern validation and every precedence rule of match().
#include "supervisor/routing/route_table.h"

#include "allocation_counter.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace isolated {
namespace {

struct App {
  uint32_t id;
  std::string name;
  std::vector<std::string> patterns;
};

std::variant<RouteTable, RouteError> buildFrom(const std::vector<App>& apps) {
  std::vector<AppRoutes> routes;
  for (const auto& app : apps)
    routes.push_back(AppRoutes{app.id, app.name, app.patterns});
  return RouteTable::build(routes);
}

RouteTable tableOf(const std::vector<App>& apps) {
  auto built = buildFrom(apps);
  if (auto* error = std::get_if<RouteError>(&built)) {
    ADD_FAILURE() << error->message;
    return std::get<RouteTable>(buildFrom({}));
  }
  return std::get<RouteTable>(std::move(built));
}

std::string patternError(const std::string& pattern) {
  auto parsed = parseRoutePattern(pattern);
  if (auto* error = std::get_if<std::string>(&parsed)) return *error;
  ADD_FAILURE() << "'" << pattern << "' parsed";
  return "";
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

constexpr uint32_t kNone = 999;
uint32_t appFor(const RouteTable& table, std::string_view host, std::string_view path) {
  return table.match(host, path).value_or(kNone);
}

TEST(RoutePatternTest, ParsesTheThreeHostForms) {
  auto exact = std::get<RoutePattern>(parseRoutePattern("Shop.Example.com/cart"));
  EXPECT_EQ(exact.hostKind, RoutePattern::HostKind::kExact);
  EXPECT_EQ(exact.host, "shop.example.com");
  EXPECT_EQ(exact.path, "/cart");
  EXPECT_FALSE(exact.prefix);
  EXPECT_EQ(exact.text(), "shop.example.com/cart");

  auto wildcard = std::get<RoutePattern>(parseRoutePattern("*.example.com/api/*"));
  EXPECT_EQ(wildcard.hostKind, RoutePattern::HostKind::kSuffix);
  EXPECT_EQ(wildcard.host, "example.com");
  EXPECT_EQ(wildcard.path, "/api/");
  EXPECT_TRUE(wildcard.prefix);
  EXPECT_EQ(wildcard.text(), "*.example.com/api/*");

  auto any = std::get<RoutePattern>(parseRoutePattern("*/*"));
  EXPECT_EQ(any.hostKind, RoutePattern::HostKind::kAny);
  EXPECT_EQ(any.path, "/");
  EXPECT_TRUE(any.prefix);
}

TEST(RoutePatternTest, RejectsBadPatternsPrecisely) {
  EXPECT_TRUE(contains(patternError(""), "empty"));
  EXPECT_TRUE(contains(patternError("example.com"), "found no '/'"));
  EXPECT_TRUE(contains(patternError("https://example.com/*"), "no scheme"));
  EXPECT_TRUE(contains(patternError("example.com:8080/*"), "no port"));
  EXPECT_TRUE(contains(patternError("shop.*.com/*"), "'*' may only start a host"));
  EXPECT_TRUE(contains(patternError("*example.com/*"), "'*' may only start a host"));
  EXPECT_TRUE(contains(patternError("example.com/a*/b"), "'*' may only end a path"));
  EXPECT_TRUE(contains(patternError("example.com/**"), "'*' may only end a path"));
  EXPECT_TRUE(contains(patternError("exa mple.com/*"), "' ' is not allowed"));
  EXPECT_TRUE(contains(patternError("ex@mple.com/*"), "'@' is not allowed"));
  EXPECT_TRUE(contains(patternError("/*"), "host is empty"));
  EXPECT_TRUE(contains(patternError("*./*"), "host is empty"));
  EXPECT_TRUE(contains(patternError("a..b/*"), "empty labels"));
  EXPECT_TRUE(contains(patternError(".example.com/*"), "empty labels"));
  EXPECT_TRUE(contains(patternError("example.com/a?b=1"), "query"));
  EXPECT_TRUE(contains(patternError("example.com/a#x"), "fragment"));
  EXPECT_TRUE(contains(patternError("example.com/a b"), "spaces"));
  // The message quotes the pattern it is about.
  EXPECT_TRUE(contains(patternError("example.com/a*/b"), "route 'example.com/a*/b'"));
}

TEST(RouteTableTest, ExactHostAndPath) {
  auto table = tableOf({{1, "a", {"example.com/about"}}, {2, "b", {"example.com/*"}}});
  EXPECT_EQ(appFor(table, "example.com", "/about"), 1u);
  EXPECT_EQ(appFor(table, "example.com", "/about/"), 2u);
  EXPECT_EQ(appFor(table, "example.com", "/"), 2u);
  EXPECT_EQ(appFor(table, "other.com", "/about"), kNone);
  EXPECT_EQ(table.size(), 2u);
}

TEST(RouteTableTest, HostIsCaseInsensitiveWithoutPortOrTrailingDot) {
  auto table = tableOf({{1, "a", {"Example.COM/*"}}});
  EXPECT_EQ(appFor(table, "example.com", "/x"), 1u);
  EXPECT_EQ(appFor(table, "EXAMPLE.com", "/x"), 1u);
  EXPECT_EQ(appFor(table, "example.com:8080", "/x"), 1u);
  EXPECT_EQ(appFor(table, "example.com.", "/x"), 1u);
  EXPECT_EQ(appFor(table, "example.com.evil", "/x"), kNone);
  // Paths are case-sensitive, like URLs.
  auto paths = tableOf({{1, "a", {"example.com/Admin"}}});
  EXPECT_EQ(appFor(paths, "example.com", "/admin"), kNone);
}

TEST(RouteTableTest, QueryIsIgnored) {
  auto table = tableOf({{1, "a", {"example.com/search"}}});
  EXPECT_EQ(appFor(table, "example.com", "/search?q=1"), 1u);
  EXPECT_EQ(appFor(table, "example.com", "/search#top"), 1u);
}

TEST(RouteTableTest, WildcardHostMatchesSubdomainsOnly) {
  auto table = tableOf({{1, "a", {"*.example.com/*"}}});
  EXPECT_EQ(appFor(table, "a.example.com", "/"), 1u);
  EXPECT_EQ(appFor(table, "a.b.example.com", "/x"), 1u);
  EXPECT_EQ(appFor(table, "example.com", "/"), kNone);
  EXPECT_EQ(appFor(table, "badexample.com", "/"), kNone);
  EXPECT_EQ(appFor(table, "a.example.com.org", "/"), kNone);
}

TEST(RouteTableTest, PrefixPathIncludesItsOwnText) {
  auto table = tableOf({{1, "a", {"example.com/shop/*"}}});
  EXPECT_EQ(appFor(table, "example.com", "/shop/"), 1u);
  EXPECT_EQ(appFor(table, "example.com", "/shop/a/b"), 1u);
  EXPECT_EQ(appFor(table, "example.com", "/shop"), kNone);
  EXPECT_EQ(appFor(table, "example.com", "/shopping"), kNone);
  auto bare = tableOf({{1, "a", {"example.com/shop*"}}});
  EXPECT_EQ(appFor(bare, "example.com", "/shop"), 1u);
  EXPECT_EQ(appFor(bare, "example.com", "/shopping"), 1u);
}

TEST(RouteTableTest, ExactHostBeatsWildcardBeatsAny) {
  auto table = tableOf({{1, "any", {"*/*"}},
                        {2, "wild", {"*.example.com/*"}},
                        {3, "exact", {"shop.example.com/*"}}});
  EXPECT_EQ(appFor(table, "shop.example.com", "/"), 3u);
  EXPECT_EQ(appFor(table, "blog.example.com", "/"), 2u);
  EXPECT_EQ(appFor(table, "example.com", "/"), 1u);
  EXPECT_EQ(appFor(table, "elsewhere.org", "/"), 1u);
}

TEST(RouteTableTest, HostSpecificityWinsOverPathLength) {
  // A longer path on a less specific host loses to the exact host's catch-all.
  auto table =
      tableOf({{1, "wild", {"*.example.com/api/v1/*"}}, {2, "exact", {"a.example.com/*"}}});
  EXPECT_EQ(appFor(table, "a.example.com", "/api/v1/x"), 2u);
  EXPECT_EQ(appFor(table, "b.example.com", "/api/v1/x"), 1u);
}

TEST(RouteTableTest, LongerWildcardSuffixWins) {
  auto table = tableOf({{1, "short", {"*.example.com/*"}}, {2, "long", {"*.eu.example.com/*"}}});
  EXPECT_EQ(appFor(table, "shop.eu.example.com", "/"), 2u);
  EXPECT_EQ(appFor(table, "a.shop.eu.example.com", "/"), 2u);
  EXPECT_EQ(appFor(table, "eu.example.com", "/"), 1u);
  EXPECT_EQ(appFor(table, "us.example.com", "/"), 1u);
}

TEST(RouteTableTest, UnmatchedPathFallsThroughToLessSpecificHosts) {
  auto table = tableOf({{1, "exact", {"example.com/admin/*"}},
                        {2, "wild", {"*.example.com/static/*"}},
                        {3, "any", {"*/*"}}});
  EXPECT_EQ(appFor(table, "example.com", "/admin/x"), 1u);
  EXPECT_EQ(appFor(table, "example.com", "/other"), 3u);
  EXPECT_EQ(appFor(table, "a.example.com", "/static/x"), 2u);
  EXPECT_EQ(appFor(table, "a.example.com", "/other"), 3u);
  auto shorter = tableOf({{1, "long", {"*.b.example.com/x/*"}}, {2, "short", {"*.example.com/*"}}});
  EXPECT_EQ(appFor(shorter, "a.b.example.com", "/y"), 2u);
}

TEST(RouteTableTest, LongerPathWinsThenExactOverPrefix) {
  auto table = tableOf({{1, "root", {"example.com/*"}},
                        {2, "api", {"example.com/api/*"}},
                        {3, "v1", {"example.com/api/v1/*"}},
                        {4, "exact", {"example.com/api/"}}});
  EXPECT_EQ(appFor(table, "example.com", "/"), 1u);
  EXPECT_EQ(appFor(table, "example.com", "/api/x"), 2u);
  EXPECT_EQ(appFor(table, "example.com", "/api/v1/x"), 3u);
  // "/api/" exactly: the exact rule and the "/api/" prefix have the same length.
  EXPECT_EQ(appFor(table, "example.com", "/api/"), 4u);
  // Order of declaration does not matter.
  auto reversed = tableOf({{4, "exact", {"example.com/api/"}},
                           {3, "v1", {"example.com/api/v1/*"}},
                           {2, "api", {"example.com/api/*"}},
                           {1, "root", {"example.com/*"}}});
  EXPECT_EQ(appFor(reversed, "example.com", "/api/"), 4u);
  EXPECT_EQ(appFor(reversed, "example.com", "/api/v1/x"), 3u);
  EXPECT_EQ(appFor(reversed, "example.com", "/z"), 1u);
}

TEST(RouteTableTest, AnyHostRulesAreOrderedByPathToo) {
  auto table = tableOf({{1, "all", {"*/*"}}, {2, "health", {"*/healthz"}}});
  EXPECT_EQ(appFor(table, "x.org", "/healthz"), 2u);
  EXPECT_EQ(appFor(table, "x.org", "/healthz/more"), 1u);
}

TEST(RouteTableTest, HostsThatCanOnlyMatchAny) {
  auto table = tableOf({{1, "any", {"*/*"}}, {2, "exact", {"example.com/*"}}});
  EXPECT_EQ(appFor(table, "[::1]:8080", "/"), 1u);
  EXPECT_EQ(appFor(table, "", "/"), 1u);
  EXPECT_EQ(appFor(table, std::string(400, 'a'), "/"), 1u);
  auto none = tableOf({{2, "exact", {"example.com/*"}}});
  EXPECT_EQ(appFor(none, "[::1]", "/"), kNone);
  EXPECT_EQ(appFor(none, "", "/"), kNone);
}

TEST(RouteTableTest, OneAppManyPatterns) {
  auto table =
      tableOf({{7, "shop", {"shop.example.com/*", "example.com/shop/*", "*.shop.example.com/*"}}});
  EXPECT_EQ(appFor(table, "shop.example.com", "/"), 7u);
  EXPECT_EQ(appFor(table, "example.com", "/shop/x"), 7u);
  EXPECT_EQ(appFor(table, "eu.shop.example.com", "/"), 7u);
  EXPECT_EQ(appFor(table, "example.com", "/"), kNone);
}

TEST(RouteTableTest, DuplicatePatternNamesBothApps) {
  auto built =
      buildFrom({{1, "shop", {"a.com/*", "example.com/*"}}, {2, "blog", {"Example.com/*"}}});
  auto* error = std::get_if<RouteError>(&built);
  ASSERT_NE(error, nullptr);
  EXPECT_TRUE(contains(error->message, "'shop'")) << error->message;
  EXPECT_TRUE(contains(error->message, "'blog'")) << error->message;
  EXPECT_EQ(error->entry, 1u);
  EXPECT_EQ(error->pattern, 0u);

  auto twice = buildFrom({{1, "shop", {"a.com/*", "a.com/*"}}});
  ASSERT_TRUE(std::holds_alternative<RouteError>(twice));
  EXPECT_TRUE(contains(std::get<RouteError>(twice).message, "listed twice"));
  EXPECT_EQ(std::get<RouteError>(twice).pattern, 1u);
}

TEST(RouteTableTest, BadPatternPointsAtItsEntry) {
  auto built = buildFrom({{1, "a", {"a.com/*"}}, {2, "b", {"b.com/*", "bad"}}});
  auto* error = std::get_if<RouteError>(&built);
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(error->entry, 1u);
  EXPECT_EQ(error->pattern, 1u);
  EXPECT_TRUE(contains(error->message, "route 'bad'"));
}

TEST(RouteTableTest, SamePathDifferentHostKindsAreDistinct) {
  auto table =
      tableOf({{1, "a", {"example.com/*"}}, {2, "b", {"*.example.com/*"}}, {3, "c", {"*/*"}}});
  EXPECT_EQ(table.size(), 3u);
}

TEST(RouteTableTest, EmptyTableMatchesNothing) {
  auto table = tableOf({});
  EXPECT_EQ(appFor(table, "example.com", "/"), kNone);
}

TEST(RouteTableTest, ManyHostsStayFast) {
  // 10,000 exact hosts: lookups go through the hash, not a scan (a sanity bound, not a bench).
  std::vector<App> apps;
  for (uint32_t i = 0; i < 10000; ++i) {
    apps.push_back({i, "app" + std::to_string(i), {"app" + std::to_string(i) + ".example.com/*"}});
  }
  apps.push_back({10000, "wild", {"*.example.com/*"}});
  auto table = tableOf(apps);
  for (uint32_t i = 0; i < 10000; i += 997) {
    EXPECT_EQ(appFor(table, "app" + std::to_string(i) + ".example.com", "/x"), i);
  }
  EXPECT_EQ(appFor(table, "nobody.example.com", "/x"), 10000u);
}

TEST(RouteTableTest, MatchAllocatesNothing) {
  auto table = tableOf({{1, "exact", {"shop.example.com/*", "shop.example.com/cart"}},
                        {2, "wild", {"*.example.com/*"}},
                        {3, "any", {"*/static/*"}}});
  // Long enough that a std::string copy of the host or path would not fit the small buffer.
  const std::string host = "A-Rather-Long-Subdomain.Deeper.Example.COM:8443";
  const std::string path = "/static/some/long/path/to/an/asset.js?version=1234567890";
  size_t before = allocationCount();
  uint32_t sum = 0;
  for (int i = 0; i < 100; ++i) {
    sum += appFor(table, host, path);
    sum += appFor(table, "shop.example.com", "/cart?x=1");
    sum += appFor(table, "nowhere.org", path);
  }
  EXPECT_EQ(allocationCount(), before);
  EXPECT_EQ(sum, 100u * (2 + 1 + 3));
  // The counter does see allocations (the check above can fail).
  auto copy = std::make_unique<std::string>(host);
  EXPECT_GT(allocationCount(), before);
}

}  // namespace
}  // namespace isolated
