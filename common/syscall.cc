// Error formatting for the checked system-call helpers.
#include "common/syscall.h"

#include <cstring>

namespace isolated {

namespace {
std::string describe(std::string_view call, int err, std::string_view context) {
  std::string text(call);
  text += ": ";
  text += errnoText(err);
  if (!context.empty()) {
    text += " (";
    text += context;
    text += ")";
  }
  return text;
}
}  // namespace

SyscallError::SyscallError(std::string_view call, int err, std::string_view context)
    : std::runtime_error(describe(call, err, context)), error_(err) {}

std::string errnoText(int err) {
  char buf[256];
  // GNU strerror_r returns the message pointer, which may or may not be `buf`.
  const char* msg = strerror_r(err, buf, sizeof buf);
  return msg;
}

}  // namespace isolated
