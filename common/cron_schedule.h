// One cron expression (--cron): parsing and the next time it fires. Standard five fields,
// minute hour day-of-month month day-of-week, in UTC, as in Vixie cron and Cloudflare Workers'
// Cron Triggers:
//   - each field is `*`, a number, a range `a-b`, a list `x,y,...` of those, and any of them
//     with a step `/n` (`a/n` means `a-MAX/n`);
//   - months may be named JAN..DEC and days of the week SUN..SAT (case-insensitive); day of
//     week 0 and 7 are both Sunday;
//   - when both day fields are restricted (neither starts with `*`) a day matches if EITHER
//     does; otherwise both must (Vixie's rule);
//   - the macros @yearly (@annually), @monthly, @weekly, @daily (@midnight) and @hourly.
// A bad expression gets an error naming the field and the offending text. Pure logic and
// immutable after parse: safe to share, unit-tested directly.
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace isolated {

class CronSchedule {
 public:
  // The schedule, or an error message such as
  // "day-of-week field '8': 8 is out of range 0-7".
  static std::variant<CronSchedule, std::string> parse(std::string_view expression);

  // The first whole minute strictly after `afterEpochSeconds` (UTC) that matches, in seconds
  // since the epoch; nullopt only for a time in the far future (parse rejects expressions that
  // never fire).
  std::optional<int64_t> next(int64_t afterEpochSeconds) const;

  // Whether the minute that contains `epochSeconds` matches.
  bool matches(int64_t epochSeconds) const;

  // The expression as given (trimmed), which is also what scripts see as `event.cron`.
  const std::string& expression() const { return expression_; }

 private:
  CronSchedule() = default;
  bool dayMatches(int dayOfMonth, int month, int dayOfWeek) const;

  std::string expression_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> daysOfMonth_;  // 1..31
  std::bitset<13> months_;       // 1..12
  std::bitset<8> daysOfWeek_;    // 0..6, Sunday 0 (7 is folded into 0)
  bool dayOfMonthStar_ = false;
  bool dayOfWeekStar_ = false;
};

}  // namespace isolated
