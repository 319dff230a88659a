// The Date header value (RFC 9110 IMF-fixdate), formatted at most once a second and shared by
// every response a loop writes in that second.
// Threading: one per event loop thread.
#pragma once

#include <ctime>
#include <string_view>

namespace isolated::http {

class HttpDate {
 public:
  // "Sun, 06 Nov 1994 08:49:37 GMT" for `now`; the view is valid until the next call.
  std::string_view at(time_t now);

 private:
  time_t cachedSecond_ = -1;
  char text_[29] = {};
};

}  // namespace isolated::http
