// One persistent V8 isolate and context running one script. Created once per worker; it serves
// every request the worker receives, interleaving those that await timers.
//
// Threading: everything here runs on the worker's event-loop thread.
// Invariant: each dispatched request id gets exactly one Response through the Outbox, whether
// the handler returns, rejects, throws or returns something that is not a Response.
#pragma once

#include <event2/event.h>
#include <v8.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>

#include "ipc/messages.capnp.h"
#include "worker/outbox.h"
#include "worker/script_loader.h"
#include "worker/timer_queue.h"

namespace isolated::worker {

struct HostOptions {
  std::string scriptPath;
  size_t heapLimitBytes = 128u << 20;
  // Console lines are dropped (and counted) while more than this is queued for the supervisor.
  size_t logBacklogBytes = 1u << 20;
};

struct HeapStats {
  uint64_t usedBytes = 0;
  uint64_t totalBytes = 0;
  uint64_t limitBytes = 0;
  uint64_t externalBytes = 0;
};

class IsolateHost {
 public:
  IsolateHost(event_base* base, Outbox& outbox, HostOptions options);
  ~IsolateHost();
  IsolateHost(const IsolateHost&) = delete;
  IsolateHost& operator=(const IsolateHost&) = delete;

  // Installs the runtime and evaluates the script. Returns the error when it cannot be loaded.
  std::optional<ScriptError> load();

  // Runs the script's fetch handler for one request. The response goes out through the Outbox,
  // now or when the handler's promise settles.
  void dispatch(ipc::RequestStart::Reader request);

  size_t inFlight() const { return inFlight_.size(); }
  HeapStats heapStats();
  uint64_t droppedLogLines() const { return droppedLogLines_; }

 private:
  friend class NativeBindings;

  void fireTimer(uint64_t id);
  void sendResponse(uint64_t id, uint16_t status, v8::Local<v8::Array> flatHeaders,
                    v8::Local<v8::Value> body);
  void sendRuntimeError(uint64_t id, const std::string& kind, const std::string& detail);
  void sendLog(int level, const std::string& message, uint64_t requestId);
  // Runs pending microtasks; the single place promise reactions are allowed to run.
  void runMicrotasks();

  Outbox& outbox_;
  HostOptions options_;
  TimerQueue timers_;
  std::unique_ptr<v8::ArrayBuffer::Allocator> allocator_;
  v8::Isolate* isolate_ = nullptr;
  v8::Global<v8::Context> context_;
  v8::Global<v8::Function> dispatchFn_;
  v8::Global<v8::Function> fireTimerFn_;
  std::unordered_set<uint64_t> inFlight_;
  uint64_t droppedLogLines_ = 0;
};

}  // namespace isolated::worker
