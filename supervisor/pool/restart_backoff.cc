// RestartBackoff (restart_backoff.h).
#include "supervisor/pool/restart_backoff.h"

#include <algorithm>
#include <cmath>

namespace isolated {

std::chrono::milliseconds RestartBackoff::delay() const {
  // The exponent is capped well before double's range; the cap on the delay does the rest.
  uint32_t exponent = std::min<uint32_t>(std::max<uint32_t>(failures_, 1) - 1, 30);
  double ms = static_cast<double>(base_.count()) * std::pow(2.0, exponent);
  return std::chrono::milliseconds(
      static_cast<int64_t>(std::min<double>(ms, static_cast<double>(max_.count()))));
}

void RestartBackoff::recordEarlyFailure(TimePoint now) {
  ++failures_;
  lastFailureAt_ = now;
}

RestartBackoff::TimePoint RestartBackoff::schedule(TimePoint now) {
  TimePoint due = now + delay();
  due_.insert(std::upper_bound(due_.begin(), due_.end(), due), due);
  return due;
}

std::optional<RestartBackoff::TimePoint> RestartBackoff::nextDue() const {
  if (due_.empty()) return std::nullopt;
  return due_.front();
}

size_t RestartBackoff::takeDue(TimePoint now) {
  auto end = std::upper_bound(due_.begin(), due_.end(), now);
  auto taken = static_cast<size_t>(end - due_.begin());
  due_.erase(due_.begin(), end);
  return taken;
}

bool RestartBackoff::reset() {
  if (failures_ == 0 && due_.empty()) return false;
  failures_ = 0;
  due_.clear();
  return true;
}

bool RestartBackoff::forgetIfQuiet(TimePoint now) {
  if (failures_ == 0 || !due_.empty() || now - lastFailureAt_ <= kFailureMemory) return false;
  failures_ = 0;
  return true;
}

}  // namespace isolated
