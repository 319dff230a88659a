// A plain-text table for terminal output: a header row and data rows, columns padded to their
// widest cell and separated by two spaces. Pure string building, no I/O, so it is unit-tested.
#pragma once

#include <string>
#include <vector>

namespace isolated {

class TextTable {
 public:
  enum class Align { kLeft, kRight };
  struct Column {
    std::string header;
    Align align = Align::kLeft;
  };

  explicit TextTable(std::vector<Column> columns);

  // A row with fewer cells than columns is padded with empty cells; extra cells are dropped.
  void addRow(std::vector<std::string> cells);
  size_t rowCount() const { return rows_.size(); }

  // The header line, then one line per row, each ending in '\n' and without trailing spaces.
  // Widths count UTF-8 code points, not bytes, so a non-ASCII cell does not skew the layout.
  std::string render() const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// Display width of a UTF-8 string in code points (every code point counted as one column).
size_t displayWidth(const std::string& text);

}  // namespace isolated
