// CronSchedule: parsing errors name the field, and next() follows Vixie cron's rules in UTC.
#include "common/cron_schedule.h"

#include <gtest/gtest.h>

#include <ctime>

namespace isolated {
namespace {

int64_t utc(int year, int month, int day, int hour, int minute) {
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  return static_cast<int64_t>(timegm(&tm));
}

CronSchedule parsed(const char* expression) {
  auto result = CronSchedule::parse(expression);
  if (auto* error = std::get_if<std::string>(&result)) {
    ADD_FAILURE() << expression << ": " << *error;
    return std::get<CronSchedule>(CronSchedule::parse("* * * * *"));
  }
  return std::get<CronSchedule>(result);
}

std::string errorOf(const char* expression) {
  auto result = CronSchedule::parse(expression);
  auto* error = std::get_if<std::string>(&result);
  return error ? *error : "(parsed)";
}

TEST(CronScheduleTest, EveryMinuteFiresAtTheNextWholeMinute) {
  auto s = parsed("* * * * *");
  EXPECT_EQ(s.next(utc(2026, 11, 27, 12, 0)), utc(2026, 11, 27, 12, 1));
  EXPECT_EQ(s.next(utc(2026, 11, 27, 12, 0) + 59), utc(2026, 11, 27, 12, 1));
  EXPECT_EQ(s.expression(), "* * * * *");
}

TEST(CronScheduleTest, StepsRangesAndLists) {
  auto s = parsed("*/15 9-17 * * *");
  EXPECT_EQ(s.next(utc(2026, 1, 1, 8, 59)), utc(2026, 1, 1, 9, 0));
  EXPECT_EQ(s.next(utc(2026, 1, 1, 9, 0)), utc(2026, 1, 1, 9, 15));
  EXPECT_EQ(s.next(utc(2026, 1, 1, 17, 45)), utc(2026, 1, 2, 9, 0));
  auto list = parsed("5,10-12,50/5 0 * * *");
  EXPECT_EQ(list.next(utc(2026, 1, 1, 0, 5)), utc(2026, 1, 1, 0, 10));
  EXPECT_EQ(list.next(utc(2026, 1, 1, 0, 12)), utc(2026, 1, 1, 0, 50));
  EXPECT_EQ(list.next(utc(2026, 1, 1, 0, 50)), utc(2026, 1, 1, 0, 55));
  EXPECT_EQ(list.next(utc(2026, 1, 1, 0, 55)), utc(2026, 1, 2, 0, 5));
  auto rangeStep = parsed("0 1-10/3 * * *");  // hours 1, 4, 7, 10
  EXPECT_EQ(rangeStep.next(utc(2026, 1, 1, 4, 0)), utc(2026, 1, 1, 7, 0));
  EXPECT_EQ(rangeStep.next(utc(2026, 1, 1, 10, 0)), utc(2026, 1, 2, 1, 0));
}

TEST(CronScheduleTest, NamesAndSundayAsSeven) {
  // 2026-11-27 is a Friday.
  auto weekdays = parsed("30 8 * * mon-FRI");
  EXPECT_EQ(weekdays.next(utc(2026, 11, 27, 9, 0)), utc(2026, 11, 30, 8, 30));
  auto sunday = parsed("0 0 * * 7");
  EXPECT_EQ(sunday.next(utc(2026, 11, 27, 0, 0)), utc(2026, 11, 29, 0, 0));
  auto months = parsed("0 0 1 JAN,jul *");
  EXPECT_EQ(months.next(utc(2026, 2, 1, 0, 0)), utc(2026, 7, 1, 0, 0));
}

TEST(CronScheduleTest, DayOfMonthAndDayOfWeekAreOredWhenBothRestricted) {
  // The 1st of the month or any Monday (Vixie): from Fri 2026-11-27, Monday 11-30 comes first,
  // then Tuesday 12-01.
  auto either = parsed("0 12 1 * MON");
  EXPECT_EQ(either.next(utc(2026, 11, 27, 0, 0)), utc(2026, 11, 30, 12, 0));
  EXPECT_EQ(either.next(utc(2026, 11, 30, 12, 0)), utc(2026, 12, 1, 12, 0));
  // A star in one day field makes the other the only restriction.
  auto firstOnly = parsed("0 12 1 * *");
  EXPECT_EQ(firstOnly.next(utc(2026, 11, 27, 0, 0)), utc(2026, 12, 1, 12, 0));
  auto starStep = parsed("0 12 */1 * MON");  // `*/1` starts with *: AND, so Mondays only
  EXPECT_EQ(starStep.next(utc(2026, 11, 30, 12, 0)), utc(2026, 12, 7, 12, 0));
}

TEST(CronScheduleTest, LeapDayAndMacros) {
  auto leap = parsed("0 0 29 2 *");
  EXPECT_EQ(leap.next(utc(2026, 1, 1, 0, 0)), utc(2028, 2, 29, 0, 0));
  EXPECT_EQ(parsed("@hourly").next(utc(2026, 1, 1, 0, 30)), utc(2026, 1, 1, 1, 0));
  EXPECT_EQ(parsed("@daily").next(utc(2026, 1, 1, 0, 0)), utc(2026, 1, 2, 0, 0));
  EXPECT_EQ(parsed("@weekly").next(utc(2026, 11, 27, 0, 0)), utc(2026, 11, 29, 0, 0));
  EXPECT_EQ(parsed("@monthly").next(utc(2026, 11, 27, 0, 0)), utc(2026, 12, 1, 0, 0));
  EXPECT_EQ(parsed("@yearly").next(utc(2026, 11, 27, 0, 0)), utc(2027, 1, 1, 0, 0));
  EXPECT_TRUE(parsed("0 0 29 2 *").matches(utc(2028, 2, 29, 0, 0) + 30));
  EXPECT_FALSE(parsed("0 0 29 2 *").matches(utc(2028, 2, 29, 0, 1)));
}

TEST(CronScheduleTest, ErrorsNameTheField) {
  EXPECT_EQ(errorOf("* * * *"),
            "expected 5 fields (minute hour day-of-month month day-of-week), got 4 in '* * * *'");
  EXPECT_EQ(errorOf("60 * * * *"), "minute field '60': 60 is out of range 0-59");
  EXPECT_EQ(errorOf("* 24 * * *"), "hour field '24': 24 is out of range 0-23");
  EXPECT_EQ(errorOf("* * 0 * *"), "day-of-month field '0': 0 is out of range 1-31");
  EXPECT_EQ(errorOf("* * * FOO *"), "month field 'FOO': 'FOO' is not a number or name");
  EXPECT_EQ(errorOf("* * * * 8"), "day-of-week field '8': 8 is out of range 0-7");
  EXPECT_EQ(errorOf("*/0 * * * *"), "minute field '*/0': step '0' must be a number from 1 to 60");
  EXPECT_EQ(errorOf("5-1 * * * *"), "minute field '5-1': range '5-1' runs backwards");
  EXPECT_EQ(errorOf("1,,2 * * * *"), "minute field '1,,2': empty list item");
  EXPECT_EQ(errorOf("x * * * *"), "minute field 'x': 'x' is not a number");
  EXPECT_EQ(errorOf("0 0 30 2 *"), "'0 0 30 2 *' never fires (no such date)");
  EXPECT_EQ(errorOf("@often"),
            "unknown macro '@often' (expected @yearly, @annually, @monthly, @weekly, @daily, "
            "@midnight or @hourly)");
}

}  // namespace
}  // namespace isolated
