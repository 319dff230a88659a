// Finding an [[app]] table's lines through toml++'s source regions and splicing text there.
#include "config/config_splice.h"

#include <toml++/toml.h>

#include <algorithm>
#include <vector>

namespace isolated {

namespace {

// The last line any key or value under `node` was written on.
uint32_t lastLine(const toml::node& node) {
  uint32_t last = node.source().end.line;
  if (auto* table = node.as_table()) {
    for (const auto& [key, value] : *table) {
      last = std::max({last, key.source().end.line, lastLine(value)});
    }
  } else if (auto* array = node.as_array()) {
    for (const auto& element : *array)
      last = std::max(last, lastLine(element));
  }
  return last;
}

// Byte offset of the start of 1-based `line` (text.size() past the last line).
size_t lineStart(const std::string& text, uint32_t line) {
  size_t at = 0;
  for (uint32_t n = 1; n < line && at < text.size(); ++n) {
    size_t newline = text.find('\n', at);
    if (newline == std::string::npos) return text.size();
    at = newline + 1;
  }
  return at;
}

}  // namespace

std::optional<std::string> spliceAppTable(const std::string& text, const std::string& path,
                                          const std::string& name,
                                          const std::optional<std::string>& table,
                                          std::string& error) {
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    error =
        path + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description());
    return std::nullopt;
  }
  const toml::table* found = nullptr;
  if (const toml::node* apps = root.get("app")) {
    const toml::array* array = apps->as_array();
    if (array == nullptr) {
      error = path + ":" + std::to_string(apps->source().begin.line) + ": \"app\" is not an array";
      return std::nullopt;
    }
    for (const auto& element : *array) {
      const toml::table* app = element.as_table();
      if (app == nullptr || app->is_inline()) {
        error = path + ":" + std::to_string(element.source().begin.line) +
                ": the apps are written inline (app = [ {...} ]); saving rewrites [[app]] "
                "tables only: write each app as an [[app]] table";
        return std::nullopt;
      }
      const toml::node* appName = app->get("name");
      if (appName != nullptr && appName->value<std::string>() == name) found = app;
    }
  }

  if (found == nullptr) {
    if (!table) return text;
    std::string out = text;
    if (!out.empty() && out.back() != '\n') out += '\n';
    if (!out.empty()) out += '\n';
    return out + *table;
  }

  uint32_t first = found->source().begin.line;
  uint32_t last = lastLine(*found);
  // Another table whose header lies inside the span would be cut out with it.
  for (const auto& [key, node] : root) {
    std::vector<const toml::node*> others;
    if (auto* array = node.as_array(); array != nullptr && key.str() == "app") {
      for (const auto& element : *array)
        if (&element != found) others.push_back(&element);
    } else {
      others.push_back(&node);
    }
    for (const toml::node* other : others) {
      uint32_t line = other->source().begin.line;
      if (line > first && line <= last) {
        error = path + ":" + std::to_string(line) + ": a table between the header of the app '" +
                name + "' (line " + std::to_string(first) +
                ") and its sub-tables; saving needs an app's lines together: move its "
                "[app.*] sub-tables right after its keys";
        return std::nullopt;
      }
    }
  }
  size_t begin = lineStart(text, first);
  size_t end = lineStart(text, last + 1);
  std::string out = text.substr(0, begin);
  if (table) out += *table;
  std::string rest = text.substr(end);
  // A removal at the end of a text without a final newline leaves no dangling separator.
  if (!table && rest.empty() && !out.empty() && out.back() != '\n') out += '\n';
  return out + rest;
}

}  // namespace isolated
