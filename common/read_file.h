// Reading a whole file into memory, with an error that names the path and the reason.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace isolated {

// The file's bytes, or nullopt with `error` set to "cannot read PATH: REASON".
std::optional<std::string> readFile(const std::string& path, std::string& error);

// Whether `path` is a regular file whose bytes are exactly `text`. Only a regular file of
// text.size() bytes is read at all (and never more than one buffer past that, should it grow
// meanwhile), and opening never blocks on a FIFO, so a path naming a device, a pipe or a huge
// file (one a peer chose) costs no more than `text` itself.
bool fileHolds(const std::string& path, std::string_view text);

}  // namespace isolated
