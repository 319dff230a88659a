// The values an on/off setting accepts, in flags and environment variables alike.
#pragma once

#include <optional>
#include <string_view>

namespace isolated {

// true for on/true/1, false for off/false/0, nullopt for anything else.
inline std::optional<bool> parseOnOff(std::string_view value) {
  if (value == "on" || value == "true" || value == "1") return true;
  if (value == "off" || value == "false" || value == "0") return false;
  return std::nullopt;
}

}  // namespace isolated
