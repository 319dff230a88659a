// How the worker's log lines and error details write a duration: "50 ms".
#pragma once

#include <chrono>
#include <string>

namespace isolated::worker {

inline std::string millisText(std::chrono::milliseconds ms) {
  return std::to_string(ms.count()) + " ms";
}

}  // namespace isolated::worker
