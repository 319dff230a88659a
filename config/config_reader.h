// The checked walk over a parsed config file (config/config_file.h): typed accessors for TOML
// nodes that record the first error, with the file, line, table and key, for the readers of
// [server] and [[app]] tables. Internal to isolated_config.
#pragma once

#include <toml++/toml.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/limit_ranges.h"

namespace isolated::config_detail {

// "a string", "an integer", ...: a node's TOML type as error messages name it.
const char* typeName(const toml::node& node);

// Each check that fails records the first error (file, line, where, key) and returns
// nullopt/nullptr/false, which every caller passes straight up; the message is taken once at
// the end. Later failures never replace the first. One per read of one file; not shared
// between threads.
class Reader {
 public:
  // `display` is the file as errors name it; `dir` is where relative paths in it resolve.
  Reader(std::string display, std::filesystem::path dir)
      : display_(std::move(display)), dir_(std::move(dir)) {}

  const std::filesystem::path& dir() const { return dir_; }

  // "FILE:LINE" of a position in the file.
  std::string at(const toml::source_region& source) const {
    return display_ + ":" + std::to_string(source.begin.line);
  }

  // Records an error; converts to any empty optional so that `return fail(...)` reads naturally.
  std::nullopt_t fail(const toml::source_region& source, const std::string& where,
                      const std::string& message) {
    if (error_.empty()) error_ = at(source) + ": " + where + ": " + message;
    return std::nullopt;
  }
  std::nullopt_t failFile(const std::string& message) {
    if (error_.empty()) error_ = display_ + ": " + message;
    return std::nullopt;
  }

  std::nullopt_t wrongType(const toml::node& node, const std::string& where, std::string_view key,
                           const char* expected);

  // The node's string, or nullptr (error recorded) when it is not one; points into the node.
  const std::string* text(const toml::node& node, const std::string& where, std::string_view key);

  std::optional<uint32_t> number(const toml::node& node, const std::string& where,
                                 std::string_view key, LimitRange range);

  std::optional<bool> boolean(const toml::node& node, const std::string& where,
                              std::string_view key);

  // A path from the file, made absolute against the file's directory.
  std::optional<std::string> path(const toml::node& node, const std::string& where,
                                  std::string_view key);

  // A string or an array of strings, as the string nodes (for their positions).
  std::optional<std::vector<const toml::node*>> textList(const toml::node& node,
                                                         const std::string& where,
                                                         std::string_view key);

  // Any TOML value that JSON can say (not inf, nan or a date), as JSON.
  std::optional<nlohmann::json> json(const toml::node& node, const std::string& where,
                                     std::string_view key);

  const std::string& error() const { return error_; }

 private:
  std::string display_;
  std::filesystem::path dir_;
  std::string error_;
};

}  // namespace isolated::config_detail
