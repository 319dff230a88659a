// The typed accessors of config/config_reader.h: each checks one TOML node and names the key
// when it is not what the file format says.
#include "config/config_reader.h"

#include <cmath>

namespace isolated::config_detail {

const char* typeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

std::nullopt_t Reader::wrongType(const toml::node& node, const std::string& where,
                                 std::string_view key, const char* expected) {
  return fail(node.source(), where,
              "key \"" + std::string(key) + "\": expected " + expected + ", got " + typeName(node));
}

const std::string* Reader::text(const toml::node& node, const std::string& where,
                                std::string_view key) {
  if (auto* s = node.as_string()) return &s->get();
  wrongType(node, where, key, "a string");
  return nullptr;
}

std::optional<uint32_t> Reader::number(const toml::node& node, const std::string& where,
                                       std::string_view key, LimitRange range) {
  auto* i = node.as_integer();
  if (i == nullptr) return wrongType(node, where, key, "an integer");
  int64_t value = i->get();
  if (value < 0 || static_cast<uint64_t>(value) < range.min ||
      static_cast<uint64_t>(value) > range.max) {
    return fail(node.source(), where,
                "key \"" + std::string(key) + "\": expected a whole number from " +
                    std::to_string(range.min) + " to " + std::to_string(range.max) + ", got " +
                    std::to_string(value));
  }
  return static_cast<uint32_t>(value);
}

std::optional<bool> Reader::boolean(const toml::node& node, const std::string& where,
                                    std::string_view key) {
  if (auto* b = node.as_boolean()) return b->get();
  return wrongType(node, where, key, "a boolean");
}

std::optional<std::string> Reader::path(const toml::node& node, const std::string& where,
                                        std::string_view key) {
  const std::string* value = text(node, where, key);
  if (value == nullptr) return std::nullopt;
  if (value->empty()) {
    return fail(node.source(), where, "key \"" + std::string(key) + "\": empty path");
  }
  std::filesystem::path p(*value);
  if (p.is_relative()) p = dir_ / p;
  return p.lexically_normal().string();
}

std::optional<std::vector<const toml::node*>> Reader::textList(const toml::node& node,
                                                               const std::string& where,
                                                               std::string_view key) {
  std::vector<const toml::node*> out;
  if (node.is_string()) {
    out.push_back(&node);
  } else if (auto* array = node.as_array()) {
    for (const auto& element : *array) {
      if (!element.is_string()) return wrongType(element, where, key, "an array of strings");
      out.push_back(&element);
    }
  } else {
    return wrongType(node, where, key, "an array of strings");
  }
  return out;
}

std::optional<nlohmann::json> Reader::json(const toml::node& node, const std::string& where,
                                           std::string_view key) {
  switch (node.type()) {
    case toml::node_type::string:
      return nlohmann::json(node.as_string()->get());
    case toml::node_type::integer:
      return nlohmann::json(node.as_integer()->get());
    case toml::node_type::boolean:
      return nlohmann::json(node.as_boolean()->get());
    case toml::node_type::floating_point: {
      double d = node.as_floating_point()->get();
      if (!std::isfinite(d)) {
        return fail(node.source(), where,
                    "key \"" + std::string(key) + "\": JSON has no inf or nan");
      }
      return nlohmann::json(d);
    }
    case toml::node_type::array: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& element : *node.as_array()) {
        auto value = json(element, where, key);
        if (!value) return std::nullopt;
        out.push_back(std::move(*value));
      }
      return out;
    }
    case toml::node_type::table: {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& [k, v] : *node.as_table()) {
        auto value = json(v, where, key);
        if (!value) return std::nullopt;
        out[std::string(k.str())] = std::move(*value);
      }
      return out;
    }
    default:
      return fail(node.source(), where,
                  "key \"" + std::string(key) + "\": " + typeName(node) +
                      " has no JSON form (write it as a string)");
  }
}

}  // namespace isolated::config_detail
