// Aligned plain-text tables for output read by people: columns as wide as their widest cell, two
// spaces between columns, so columns never run together whatever the numbers.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

namespace attn::report {

class TextTable {
 public:
  /// `right[i]`: column i is right-aligned (numbers); missing entries mean left.
  explicit TextTable(std::vector<std::string> header, std::vector<bool> right = {})
      : right_(std::move(right)) {
    rows_.push_back(std::move(header));
  }
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.size() <= 1; }

  /// Every row, each prefixed with `indent`, ending in a newline.
  std::string str(const std::string& indent = "") const {
    std::vector<size_t> width;
    for (const auto& r : rows_)
      for (size_t i = 0; i < r.size(); ++i) {
        if (width.size() <= i) width.push_back(0);
        width[i] = std::max(width[i], display_width(r[i]));
      }
    std::string out;
    for (const auto& r : rows_) {
      std::string line = indent;
      for (size_t i = 0; i < r.size(); ++i) {
        const size_t pad = width[i] - display_width(r[i]);
        const bool last = i + 1 == r.size();
        if (i < right_.size() && right_[i]) line += std::string(pad, ' ') + r[i];
        else line += r[i] + (last ? "" : std::string(pad, ' '));
        if (!last) line += "  ";
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out += line + "\n";
    }
    return out;
  }

 private:
  /// Characters, not bytes (UTF-8 continuation bytes take no column).
  static size_t display_width(const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
  }
  std::vector<std::vector<std::string>> rows_;
  std::vector<bool> right_;
};

}  // namespace attn::report
