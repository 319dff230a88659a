// Fuzz target: cron expressions (CronSchedule::parse) and, for the ones that parse, the next
// firing time after a few instants, which walks the calendar.
#include <string_view>
#include <variant>

#include "common/cron_schedule.h"
#include "fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = isolated::CronSchedule::parse(text);
  if (auto* schedule = std::get_if<isolated::CronSchedule>(&parsed)) {
    // 2026-01-01, a leap day, and the end of 2099.
    for (int64_t at : {int64_t{1767225600}, int64_t{1709164800}, int64_t{4102444799}}) {
      (void)schedule->next(at);
    }
  }
  return 0;
}
