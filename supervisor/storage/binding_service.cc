// BindingService: per-deployment bindings and bounds on the loop, backend work on the storage
// threads.
#include "supervisor/storage/binding_service.h"

#include <ctime>

#include "ipc/protocol.h"
#include "supervisor/storage/binding_ops.h"

namespace isolated::storage {

namespace {

// Bindings with equal keys share one backend. A KV backend is one namespace of its store
// (named after the binding), so the name is part of a KV key.
std::string sharingKey(const StorageBindingSpec& spec) {
  std::string key = storageKindName(spec.kind);
  key += '\n';
  key += std::to_string(static_cast<int>(spec.backend));
  key += '\n';
  key += spec.location;
  if (spec.kind == StorageKind::kKv) {
    key += '\n';
    key += spec.name;
  }
  return key;
}

}  // namespace

BindingService::BindingService(event_base* base, BindingServiceOptions options, Send send,
                               IsCurrent isCurrent, Logger& logger)
    : base_(base),
      options_(options),
      send_(std::move(send)),
      isCurrent_(std::move(isCurrent)),
      logger_(logger),
      lastPrune_(Clock::now()) {}

BindingService::~BindingService() = default;

int BindingService::setBackground(bool background) {
  background_ = background;
  int error = local_ ? local_->setBackground(background) : 0;
  int remoteError = remote_ ? remote_->setBackground(background) : 0;
  return error != 0 ? error : remoteError;
}

std::shared_ptr<BindingService::Bound> BindingService::open(const StorageBindingSpec& spec) {
  std::string key = sharingKey(spec);
  if (auto it = shared_.find(key); it != shared_.end()) {
    if (auto bound = it->second.lock()) return bound;
  }
  auto bound = std::make_shared<Bound>(Bound{spec, openBackend(spec, options_.pgTimeout)});
  bool remote = spec.backend == StorageBackend::kPostgres;
  auto& executor = remote ? remote_ : local_;
  if (!executor) {
    executor = std::make_unique<StorageExecutor>(
        base_, remote ? options_.remoteThreads : options_.threads);
    if (background_) executor->setBackground(true);
  }
  bound->executor = executor.get();
  shared_[key] = bound;
  return bound;
}

void BindingService::addDeployment(uint32_t deployment, const std::string& app,
                                   const std::vector<StorageBindingSpec>& specs) {
  prune(Clock::now());
  DeploymentBindings bindings;
  bindings.app = app;
  for (const auto& spec : specs) {
    try {
      bindings.byName[spec.name] = open(spec);
    } catch (const StorageError& error) {
      throw StorageError(std::string(storageKindName(spec.kind)) + " binding " + spec.name + ": " +
                         error.what());
    }
  }
  deployments_[deployment] = std::move(bindings);
}

void BindingService::answer(uint32_t workerId, uint64_t callId, const BindingReply& reply) {
  capnp::MallocMessageBuilder message;
  auto result = message.initRoot<ipc::Envelope>().initBindingResult();
  result.setCallId(callId);
  result.setOk(reply.ok);
  if (!reply.ok) result.setError(reply.error);
  if (!reply.payload.empty()) result.setPayload(reply.payload);
  if (!reply.value.empty()) {
    result.setValue(
        kj::arrayPtr(reinterpret_cast<const kj::byte*>(reply.value.data()), reply.value.size()));
  }
  send_(workerId, message);
}

void BindingService::refuse(uint32_t workerId, uint64_t callId, const std::string& message) {
  answer(workerId, callId, BindingReply{false, message, "", "", false});
}

void BindingService::prune(Clock::time_point now) {
  if (now - lastPrune_ < std::chrono::seconds(1)) return;
  lastPrune_ = now;
  for (auto it = deployments_.begin(); it != deployments_.end();) {
    DeploymentBindings& bindings = it->second;
    if (isCurrent_(it->first)) {
      bindings.retiredAt.reset();
    } else if (!bindings.retiredAt) {
      bindings.retiredAt = now;
    } else if (now - *bindings.retiredAt > options_.retention) {
      it = deployments_.erase(it);
      continue;
    }
    ++it;
  }
  std::erase_if(shared_, [](const auto& item) { return item.second.expired(); });
}

void BindingService::call(uint32_t workerId, uint32_t& requestCalls,
                          ipc::BindingCall::Reader call) {
  uint64_t callId = call.getCallId();
  auto now = Clock::now();
  prune(now);
  std::string name = call.getBinding();
  auto deployment = deployments_.find(call.getApp());
  if (deployment == deployments_.end() || !deployment->second.byName.contains(name)) {
    return refuse(workerId, callId, "this app has no storage binding named \"" + name + "\"");
  }
  auto found = deployment->second.byName.find(name);
  if (call.getArgs().size() > ipc::kBindingMaxArgsBytes ||
      call.getValue().size() > ipc::kBindingMaxValueBytes) {
    return refuse(workerId, callId, "the call's arguments or value are over the binding limits");
  }
  if (requestCalls >= options_.maxCallsPerRequest) {
    return refuse(workerId, callId,
                  "too many storage operations: one request may make at most " +
                      std::to_string(options_.maxCallsPerRequest));
  }
  size_t& inFlight = inFlight_[workerId];
  if (inFlight >= ipc::kBindingMaxInFlightPerWorker) {
    return refuse(workerId, callId,
                  "the worker already has " + std::to_string(ipc::kBindingMaxInFlightPerWorker) +
                      " storage operations in flight");
  }
  ++requestCalls;
  ++inFlight;

  std::shared_ptr<Bound> bound = found->second;
  std::string app = deployment->second.app;
  std::string op = call.getOp();
  std::string args = call.getArgs();
  auto value = call.getValue();
  std::string bytes(reinterpret_cast<const char*>(value.begin()), value.size());
  auto maxWait = options_.maxQueueWait;
  bound->executor->submit([this, bound, app = std::move(app), workerId, callId, op = std::move(op),
                           args = std::move(args), bytes = std::move(bytes), submitted = now,
                           maxWait]() mutable -> std::function<void()> {
    auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - submitted);
    auto reply = std::make_shared<BindingReply>(
        waited > maxWait
            ? BindingReply{false,
                           "storage is backed up: the call waited " +
                               std::to_string(waited.count()) + " ms for a storage thread",
                           "", "", true}
            : performOp(bound->backend, op, args, std::move(bytes),
                        static_cast<int64_t>(::time(nullptr))));
    // The completion runs on the loop.
    return [this, bound, app, workerId, callId, op, reply] {
      if (auto it = inFlight_.find(workerId); it != inFlight_.end() && --it->second == 0) {
        inFlight_.erase(it);
      }
      if (reply->unavailable) {
        logger_.warn("storage backend failed", {{"app", app},
                                                {"binding", bound->spec.name},
                                                {"backend", redactStorageUrl(bound->spec.location)},
                                                {"op", op},
                                                {"error", reply->error}});
      }
      answer(workerId, callId, *reply);
    };
  });
}

}  // namespace isolated::storage
