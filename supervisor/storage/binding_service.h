// The supervisor's storage bindings: the backends every app deployment's bindings use, and the
// workers' BindingCall messages performed on them, each answered with one BindingResult
// (ipc/protocol.h rules 23-25).
//
// Per app: a deployment's bindings are registered when the deployment is made (its backends
// opened then, so a bad path is a deploy error) and are what its calls may name; a call for a
// binding its deployment lacks is refused. Backends are shared by identical specs (same kind,
// URL and, for KV, namespace name), so two apps naming the same URL see the same data and two
// naming different URLs never do. A deployment that is no longer current (the supervisor says)
// keeps its bindings for the retention horizon, so that its requests still in flight and their
// waitUntil() work finish, then lets them go; a backend closes with its last binding.
//
// Trust: the supervisor checks that the call's parent request belongs to the calling worker and
// the call's app before call() (the same check as fetch()), and gives the request's call count,
// which it keeps with the request (RequestTracker::storageCalls); here the calls per request
// and the calls in flight per worker are bounded and oversized input is refused.
// Threading: call() and the replies run on the loop thread; backend work runs on the storage
// threads (StorageExecutor), never on the loop: one pool for local backends and one for
// PostgreSQL, so that a database that is down (each call then waits up to its timeout) never
// holds up SQLite or file work. Lifetime: owned by the Supervisor, destroyed on the loop thread
// before the event_base; `send` must stay valid until then.
#pragma once

#include <capnp/message.h>
#include <event2/event.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/logger.h"
#include "common/storage_bindings.h"
#include "ipc/messages.capnp.h"
#include "supervisor/storage/backend_factory.h"
#include "supervisor/storage/binding_ops.h"
#include "supervisor/storage/storage_executor.h"

namespace isolated::storage {

struct BindingServiceOptions {
  // Threads for local backends (SQLite files, directories): CPU and disk bound, so few.
  unsigned threads = 2;
  // Threads for PostgreSQL: they mostly wait on the network, and are kept apart so that a slow
  // or down database never delays local storage.
  unsigned remoteThreads = 4;
  std::chrono::milliseconds pgTimeout{5000};
  // How long a deployment that is no longer current keeps its bindings.
  std::chrono::milliseconds retention{60000};
  uint32_t maxCallsPerRequest = 1000;
  // A call that has waited this long for a storage thread fails without running: its request
  // has reached its wall limit by then, and running it would only delay the calls behind it.
  std::chrono::milliseconds maxQueueWait{30000};
};

class BindingService {
 public:
  using Clock = std::chrono::steady_clock;
  using Send = std::function<void(uint32_t workerId, capnp::MessageBuilder& message)>;
  // Whether a deployment still serves (live or being validated).
  using IsCurrent = std::function<bool(uint32_t deployment)>;

  BindingService(event_base* base, BindingServiceOptions options, Send send, IsCurrent isCurrent,
                 Logger& logger);
  ~BindingService();

  // Opens (or shares) the backends of `specs` for `deployment` of app `app`; throws
  // StorageError naming the binding when one cannot be opened. Nothing is registered then.
  void addDeployment(uint32_t deployment, const std::string& app,
                     const std::vector<StorageBindingSpec>& specs);
  // Performs a call whose parent request the supervisor has checked, or refuses it.
  // `requestCalls` is the parent request's count of calls, counted here when the call runs.
  void call(uint32_t workerId, uint32_t& requestCalls, ipc::BindingCall::Reader call);
  // Answers `callId` with an error at once.
  void refuse(uint32_t workerId, uint64_t callId, const std::string& message);
  size_t pending() const {
    return (local_ ? local_->pending() : 0) + (remote_ ? remote_->pending() : 0);
  }
  size_t openBackends() const { return shared_.size(); }
  // Whether `deployment` was registered with at least one storage binding (and not pruned).
  bool hasBindings(uint32_t deployment) const {
    auto it = deployments_.find(deployment);
    return it != deployments_.end() && !it->second.byName.empty();
  }
  // The storage threads (those started later too) to SCHED_IDLE or back (--background-heavy-apps):
  // 0 or the errno of the first thread that could not be changed.
  int setBackground(bool background);

 private:
  // One opened backend, shared by every binding with the same key.
  struct Bound {
    StorageBindingSpec spec;
    Backend backend;
    StorageExecutor* executor = nullptr;  // local_ or remote_
  };
  struct DeploymentBindings {
    std::string app;
    std::map<std::string, std::shared_ptr<Bound>> byName;
    // Since when the deployment is not current (the retention clock); unset while current.
    std::optional<Clock::time_point> retiredAt;
  };
  std::shared_ptr<Bound> open(const StorageBindingSpec& spec);
  void answer(uint32_t workerId, uint64_t callId, const BindingReply& reply);
  void prune(Clock::time_point now);

  event_base* base_;
  BindingServiceOptions options_;
  Send send_;
  IsCurrent isCurrent_;
  Logger& logger_;
  std::unordered_map<uint32_t, DeploymentBindings> deployments_;
  // Backends by sharing key; an entry goes when its last binding does.
  std::map<std::string, std::weak_ptr<Bound>> shared_;
  std::unordered_map<uint32_t, size_t> inFlight_;  // per worker
  Clock::time_point lastPrune_;
  bool background_ = false;
  // Declared last: destroyed first, so no storage thread outlives the backends it uses (the
  // completions hold the Bound they work on).
  std::unique_ptr<StorageExecutor> local_;
  std::unique_ptr<StorageExecutor> remote_;
};

}  // namespace isolated::storage
