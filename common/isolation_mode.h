// How much state requests share (--isolation), known to both the supervisor and the worker.
//   shared:  one context per worker, globals kept across requests (the Workers model);
//   context: a fresh context for every request;
//   isolate: a fresh isolate for every request (the disposable design, kept as a baseline).
#pragma once

#include <optional>
#include <string_view>

namespace isolated {

enum class IsolationMode { kShared, kContext, kIsolate };

inline std::optional<IsolationMode> parseIsolationMode(std::string_view text) {
  if (text == "shared") return IsolationMode::kShared;
  if (text == "context") return IsolationMode::kContext;
  if (text == "isolate") return IsolationMode::kIsolate;
  return std::nullopt;
}

inline const char* isolationModeName(IsolationMode mode) {
  switch (mode) {
    case IsolationMode::kShared:
      return "shared";
    case IsolationMode::kContext:
      return "context";
    case IsolationMode::kIsolate:
      return "isolate";
  }
  return "shared";
}

}  // namespace isolated
