// Fuzz target: route patterns and the route table (supervisor/routing/route_table.h). The input
// is split at newlines: the lines before a line "--" are patterns, spread over three apps; the
// lines after it are `HOST PATH` lookups. Every lookup of a table that built must either miss or
// name one of the apps given, and parsing a pattern's canonical text must give the same pattern.
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_target.h"
#include "supervisor/routing/route_table.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> patterns[3];
  std::vector<std::string_view> lookups;
  bool inLookups = false;
  size_t count = 0;
  while (!input.empty()) {
    size_t end = input.find('\n');
    std::string_view line = input.substr(0, end);
    input = end == std::string_view::npos ? std::string_view() : input.substr(end + 1);
    if (!inLookups && line == "--") {
      inLookups = true;
    } else if (inLookups) {
      lookups.push_back(line);
    } else {
      patterns[count++ % 3].emplace_back(line);
    }
  }

  for (const auto& list : patterns) {
    for (const auto& text : list) {
      auto parsed = isolated::parseRoutePattern(text);
      if (auto* pattern = std::get_if<isolated::RoutePattern>(&parsed)) {
        auto again = isolated::parseRoutePattern(pattern->text());
        auto* same = std::get_if<isolated::RoutePattern>(&again);
        if (same == nullptr || !(*same == *pattern)) std::abort();
      }
    }
  }

  isolated::AppRoutes apps[3] = {
      {7, "a", patterns[0]}, {8, "b", patterns[1]}, {9, "c", patterns[2]}};
  auto built = isolated::RouteTable::build(apps);
  auto* table = std::get_if<isolated::RouteTable>(&built);
  if (table == nullptr) return 0;
  for (std::string_view lookup : lookups) {
    size_t space = lookup.find(' ');
    std::string_view host = lookup.substr(0, space);
    std::string_view path = space == std::string_view::npos ? "/" : lookup.substr(space + 1);
    auto app = table->match(host, path);
    if (app && (*app < 7 || *app > 9)) std::abort();
  }
  return 0;
}
