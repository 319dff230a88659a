// Encodes the worker's outgoing Response and Log messages into the Outbox. It knows nothing of
// which requests are in flight: callers decide whether an id may still be answered.
//
// Runtime errors (answers the runtime gives instead of the script) map a kind to a status and
// a plain-text body:
//   script-threw, bad-response, no-response   500
//   cpu-limit, memory-limit, context-reset    503
//   app-failed                                 503
// The kind travels as Response.runtimeError; the supervisor sends it as `isolated-error`.
#pragma once

#include <v8.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "worker/outbox.h"

namespace isolated::worker {

namespace runtime_error {
inline constexpr std::string_view kScriptThrew = "script-threw";
inline constexpr std::string_view kCpuLimit = "cpu-limit";
inline constexpr std::string_view kMemoryLimit = "memory-limit";
inline constexpr std::string_view kContextReset = "context-reset";
// The app's isolate could not be created or its script not loaded (LoadError was sent).
inline constexpr std::string_view kAppFailed = "app-failed";
}  // namespace runtime_error

class ResponseWriter {
 public:
  // Console lines are dropped (and counted) while more than `logBacklogBytes` are queued. Log
  // messages name `app` (the app deployment whose script runs; 0 for the worker itself).
  ResponseWriter(Outbox& outbox, size_t logBacklogBytes, uint32_t app = 0)
      : outbox_(outbox), logBacklogBytes_(logBacklogBytes), app_(app) {}

  // The script's answer. Must be called inside a scope for the isolate's current context.
  // `headerText` holds each header name and value followed by a NUL ("name\0value\0...": one
  // string crosses from JavaScript, not an array read element by element through the API,
  // which cost more than the rest of the encoding); each character is written as one byte, the
  // way fetch defines header bytes. A NUL cannot occur in a name or value (Headers refuses it).
  // `body` is a string, an ArrayBuffer or nothing. `waitUntilPending`: the request has
  // waitUntil() work still to run (Response.waitUntilPending), here and below.
  void response(v8::Isolate* isolate, uint64_t id, uint16_t status,
                v8::Local<v8::String> headerText, v8::Local<v8::Value> body,
                bool waitUntilPending = false);
  // Status and headers of a response whose body follows as BodyChunk messages.
  void streamedResponse(v8::Isolate* isolate, uint64_t id, uint16_t status,
                        v8::Local<v8::String> headerText, bool waitUntilPending = false);
  // The runtime's answer of kind `kind` (see above); `detail` is logged with the request id.
  void runtimeError(uint64_t id, std::string_view kind, const std::string& detail,
                    bool waitUntilPending = false);
  // `level`: 0 debug, 1 info, 2 warn, 3 error (console.debug/log/warn/error).
  void log(int level, const std::string& message, uint64_t requestId);

  uint64_t droppedLogLines() const { return droppedLogLines_; }

 private:
  Outbox& outbox_;
  size_t logBacklogBytes_;
  uint32_t app_;
  uint64_t droppedLogLines_ = 0;
};

}  // namespace isolated::worker
