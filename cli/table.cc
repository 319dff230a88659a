// TextTable: column widths, alignment and line assembly.
#include "cli/table.h"

#include <algorithm>
#include <utility>

namespace isolated {

TextTable::TextTable(std::vector<Column> columns) : columns_(std::move(columns)) {}

void TextTable::addRow(std::vector<std::string> cells) {
  cells.resize(columns_.size());
  rows_.push_back(std::move(cells));
}

size_t displayWidth(const std::string& text) {
  // Count every byte that does not continue a multi-byte sequence (10xxxxxx).
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string TextTable::render() const {
  std::vector<size_t> widths(columns_.size());
  for (size_t c = 0; c < columns_.size(); ++c) {
    widths[c] = displayWidth(columns_[c].header);
    for (const auto& row : rows_)
      widths[c] = std::max(widths[c], displayWidth(row[c]));
  }

  std::string out;
  auto appendLine = [&](auto cellAt) {
    std::string line;
    for (size_t c = 0; c < columns_.size(); ++c) {
      const std::string& cell = cellAt(c);
      size_t pad = widths[c] - displayWidth(cell);
      if (c > 0) line += "  ";
      if (columns_[c].align == Align::kRight) line.append(pad, ' ');
      line += cell;
      if (columns_[c].align == Align::kLeft) line.append(pad, ' ');
    }
    line.erase(line.find_last_not_of(' ') + 1);
    out += line;
    out += '\n';
  };
  appendLine([&](size_t c) -> const std::string& { return columns_[c].header; });
  for (const auto& row : rows_)
    appendLine([&](size_t c) -> const std::string& { return row[c]; });
  return out;
}

}  // namespace isolated
