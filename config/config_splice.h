// Replacing, adding or removing one app's [[app]] table in a config file's text, leaving every
// other byte as the operator wrote it (comments, blank lines, other tables, [server]). Pure; any
// thread.
//
// An app's table runs from its `[[app]]` header line to the last line that holds one of its
// keys or values (sub-tables written as `[app.vars]` after it included); comment and blank lines
// after that belong to what follows and are kept. Refused, with a message naming the line:
// apps written as an inline array (`app = [ {...} ]`), and an app whose sub-tables are
// separated from its header by another table (TOML allows `[[app]]`, `[server]`, `[app.vars]`).
#pragma once

#include <optional>
#include <string>

namespace isolated {

// The text with the table of app `name` replaced by `table` (added at the end when the file has
// no such app; removed when `table` is nullopt; a removal of an app the file lacks changes
// nothing). `table` is whole lines ("[[app]]\n...\n"). `path` names the file in errors. nullopt
// with `error` when the text does not parse or the app's table cannot be told apart.
std::optional<std::string> spliceAppTable(const std::string& text, const std::string& path,
                                          const std::string& name,
                                          const std::optional<std::string>& table,
                                          std::string& error);

}  // namespace isolated
