// Reading a whole file into memory, with an error that names the path and the reason.
#pragma once

#include <optional>
#include <string>

namespace isolated {

// The file's bytes, or nullopt with `error` set to "cannot read PATH: REASON".
std::optional<std::string> readFile(const std::string& path, std::string& error);

}  // namespace isolated
