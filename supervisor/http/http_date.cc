// The cached Date header: see http_date.h.
#include "supervisor/http/http_date.h"

namespace isolated::http {
namespace {

void twoDigits(char* out, int value) {
  out[0] = static_cast<char>('0' + value / 10);
  out[1] = static_cast<char>('0' + value % 10);
}

}  // namespace

std::string_view HttpDate::at(time_t now) {
  if (now != cachedSecond_) {
    static constexpr char kDays[] = "SunMonTueWedThuFriSat";
    static constexpr char kMonths[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    tm t{};
    gmtime_r(&now, &t);
    char* p = text_;
    for (int i = 0; i < 3; ++i)
      *p++ = kDays[t.tm_wday * 3 + i];
    *p++ = ',';
    *p++ = ' ';
    twoDigits(p, t.tm_mday);
    p += 2;
    *p++ = ' ';
    for (int i = 0; i < 3; ++i)
      *p++ = kMonths[t.tm_mon * 3 + i];
    *p++ = ' ';
    int year = t.tm_year + 1900;
    twoDigits(p, year / 100);
    twoDigits(p + 2, year % 100);
    p += 4;
    *p++ = ' ';
    twoDigits(p, t.tm_hour);
    p[2] = ':';
    twoDigits(p + 3, t.tm_min);
    p[5] = ':';
    twoDigits(p + 6, t.tm_sec);
    p += 8;
    *p++ = ' ';
    *p++ = 'G';
    *p++ = 'M';
    *p++ = 'T';
    cachedSecond_ = now;
  }
  return {text_, sizeof text_};
}

}  // namespace isolated::http
