// Cron expression parsing and next-fire computation (UTC, minute resolution).
#include "common/cron_schedule.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <ctime>
#include <vector>

namespace isolated {

namespace {

struct FieldSpec {
  const char* name;
  int min;
  int max;
  // Three-letter names for min, min+1, ... (months from 1, days of the week from 0).
  const char* const* names;
  int nameCount;
};

constexpr const char* kMonthNames[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                       "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr const char* kDayNames[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

constexpr FieldSpec kFields[] = {
    {"minute", 0, 59, nullptr, 0},       {"hour", 0, 23, nullptr, 0},
    {"day-of-month", 1, 31, nullptr, 0}, {"month", 1, 12, kMonthNames, 12},
    {"day-of-week", 0, 7, kDayNames, 7},
};

// Sets the bits of one field; on error returns the reason (without the field prefix).
std::optional<std::string> parseField(std::string_view text, const FieldSpec& spec,
                                      std::vector<bool>& bits) {
  auto value = [&](std::string_view token, int& out) -> std::optional<std::string> {
    if (token.empty()) return "a number is missing";
    if (std::isalpha(static_cast<unsigned char>(token[0]))) {
      std::string upper(token);
      for (char& c : upper)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      for (int i = 0; i < spec.nameCount; ++i) {
        if (upper == spec.names[i]) {
          out = spec.min == 1 ? i + 1 : i;
          return std::nullopt;
        }
      }
      return "'" + std::string(token) + "' is not a " +
             (spec.nameCount ? std::string("number or name") : std::string("number"));
    }
    auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), out);
    if (ec != std::errc() || ptr != token.data() + token.size()) {
      return "'" + std::string(token) + "' is not a number";
    }
    if (out < spec.min || out > spec.max) {
      return std::string(token) + " is out of range " + std::to_string(spec.min) + "-" +
             std::to_string(spec.max);
    }
    return std::nullopt;
  };

  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string_view item = text.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (item.empty()) return std::string("empty list item");
    std::string_view range = item;
    int step = 1;
    if (size_t slash = item.find('/'); slash != std::string_view::npos) {
      range = item.substr(0, slash);
      std::string_view stepText = item.substr(slash + 1);
      auto [ptr, ec] = std::from_chars(stepText.data(), stepText.data() + stepText.size(), step);
      if (stepText.empty() || ec != std::errc() || ptr != stepText.data() + stepText.size() ||
          step < 1 || step > spec.max - spec.min + 1) {
        return "step '" + std::string(stepText) + "' must be a number from 1 to " +
               std::to_string(spec.max - spec.min + 1);
      }
    }
    int low = spec.min;
    int high = spec.max;
    if (range == "*") {
      // The whole range.
    } else if (size_t dash = range.find('-'); dash != std::string_view::npos) {
      if (auto e = value(range.substr(0, dash), low)) return e;
      if (auto e = value(range.substr(dash + 1), high)) return e;
      if (low > high) {
        return "range '" + std::string(range) + "' runs backwards";
      }
    } else {
      if (auto e = value(range, low)) return e;
      // `a/n` runs from a to the field's end; a single value stays single.
      if (item.find('/') == std::string_view::npos) high = low;
    }
    for (int v = low; v <= high; v += step)
      bits[static_cast<size_t>(v)] = true;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return std::nullopt;
}

std::string_view macro(std::string_view text) {
  if (text == "@yearly" || text == "@annually") return "0 0 1 1 *";
  if (text == "@monthly") return "0 0 1 * *";
  if (text == "@weekly") return "0 0 * * 0";
  if (text == "@daily" || text == "@midnight") return "0 0 * * *";
  if (text == "@hourly") return "0 * * * *";
  return {};
}

// Far enough to cover every calendar combination (the Gregorian weekday/leap-year cycle is
// 28 years within a century).
constexpr int kSearchYears = 30;

}  // namespace

std::variant<CronSchedule, std::string> CronSchedule::parse(std::string_view expression) {
  auto isSpace = [](char c) { return c == ' ' || c == '\t'; };
  while (!expression.empty() && isSpace(expression.front()))
    expression.remove_prefix(1);
  while (!expression.empty() && isSpace(expression.back()))
    expression.remove_suffix(1);
  CronSchedule schedule;
  schedule.expression_ = std::string(expression);
  std::string_view text = expression;
  if (!text.empty() && text.front() == '@') {
    text = macro(expression);
    if (text.empty()) {
      return "unknown macro '" + std::string(expression) +
             "' (expected @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly)";
    }
  }
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && isSpace(text[i]))
      ++i;
    size_t begin = i;
    while (i < text.size() && !isSpace(text[i]))
      ++i;
    if (i > begin) fields.push_back(text.substr(begin, i - begin));
  }
  if (fields.size() != 5) {
    return "expected 5 fields (minute hour day-of-month month day-of-week), got " +
           std::to_string(fields.size()) + " in '" + std::string(expression) + "'";
  }
  std::vector<bool> bits[5];
  for (size_t f = 0; f < 5; ++f) {
    bits[f].assign(static_cast<size_t>(kFields[f].max) + 1, false);
    if (auto error = parseField(fields[f], kFields[f], bits[f])) {
      return std::string(kFields[f].name) + " field '" + std::string(fields[f]) + "': " + *error;
    }
  }
  for (int v = 0; v <= 59; ++v)
    schedule.minutes_[v] = bits[0][v];
  for (int v = 0; v <= 23; ++v)
    schedule.hours_[v] = bits[1][v];
  for (int v = 1; v <= 31; ++v)
    schedule.daysOfMonth_[v] = bits[2][v];
  for (int v = 1; v <= 12; ++v)
    schedule.months_[v] = bits[3][v];
  for (int v = 0; v <= 6; ++v)
    schedule.daysOfWeek_[v] = bits[4][v];
  if (bits[4][7]) schedule.daysOfWeek_[0] = true;
  schedule.dayOfMonthStar_ = fields[2].front() == '*';
  schedule.dayOfWeekStar_ = fields[4].front() == '*';
  // 2000-01-01 is a Saturday in a leap year: the search from there meets every combination.
  if (!schedule.next(946684800 - 60)) {
    return "'" + std::string(expression) + "' never fires (no such date)";
  }
  return schedule;
}

bool CronSchedule::dayMatches(int dayOfMonth, int month, int dayOfWeek) const {
  if (!months_[static_cast<size_t>(month)]) return false;
  bool dom = daysOfMonth_[static_cast<size_t>(dayOfMonth)];
  bool dow = daysOfWeek_[static_cast<size_t>(dayOfWeek)];
  if (dayOfMonthStar_ || dayOfWeekStar_) return dom && dow;
  return dom || dow;
}

bool CronSchedule::matches(int64_t epochSeconds) const {
  time_t t = static_cast<time_t>(epochSeconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return minutes_[static_cast<size_t>(tm.tm_min)] && hours_[static_cast<size_t>(tm.tm_hour)] &&
         dayMatches(tm.tm_mday, tm.tm_mon + 1, tm.tm_wday);
}

std::optional<int64_t> CronSchedule::next(int64_t afterEpochSeconds) const {
  // Start at the next whole minute, then skip whole days, hours and minutes that cannot match.
  int64_t start = afterEpochSeconds - (((afterEpochSeconds % 60) + 60) % 60) + 60;
  time_t t = static_cast<time_t>(start);
  std::tm tm{};
  gmtime_r(&t, &tm);
  const int lastYear = tm.tm_year + kSearchYears;
  while (tm.tm_year <= lastYear) {
    if (!dayMatches(tm.tm_mday, tm.tm_mon + 1, tm.tm_wday)) {
      tm.tm_mday += 1;
      tm.tm_hour = 0;
      tm.tm_min = 0;
    } else if (!hours_[static_cast<size_t>(tm.tm_hour)]) {
      tm.tm_hour += 1;
      tm.tm_min = 0;
    } else if (!minutes_[static_cast<size_t>(tm.tm_min)]) {
      tm.tm_min += 1;
    } else {
      return static_cast<int64_t>(timegm(&tm));
    }
    // Normalise (and recompute the weekday) after the carry.
    tm.tm_sec = 0;
    t = timegm(&tm);
    gmtime_r(&t, &tm);
  }
  return std::nullopt;
}

}  // namespace isolated
