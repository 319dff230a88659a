// Supervisor: the storage bindings' hooks. The BindingService does the work; here each
// deployment's bindings are registered with it, LoadApp is told their names, and each
// BindingCall is checked against the request it names (this worker must hold it for the app
// the call names) before the service sees it.
#include <algorithm>

#include "supervisor/supervisor.h"

namespace isolated::supervisor {

std::optional<std::string> Supervisor::registerBindings(const Deployment& deployment) {
  if (deployment.storage.empty() && !storage_) return std::nullopt;
  if (!storage_) {
    storage::BindingServiceOptions options;
    // A PostgreSQL call never outlasts a request's wall limit.
    options.pgTimeout = std::chrono::milliseconds(std::min<uint32_t>(config_.wallLimitMs, 10000));
    uint32_t wallLimitMs = config_.wallLimitMs;
    for (const auto& [name, app] : apps_.apps())
      wallLimitMs = std::max(wallLimitMs, app->config.wallLimitMs.value_or(0));
    options.retention = std::chrono::milliseconds(wallLimitMs) + std::chrono::seconds(30);
    options.maxQueueWait = std::chrono::milliseconds(wallLimitMs);
    storage_ = std::make_unique<storage::BindingService>(
        base_, options,
        [this](uint32_t workerId, capnp::MessageBuilder& message) {
          sendFetchMessage(workerId, message);
        },
        [this](uint32_t id) {
          App* app = apps_.appOf(id);
          return app != nullptr && !app->removed &&
                 ((app->live && app->live->id == id) ||
                  (app->candidate && app->candidate->id == id));
        },
        logger_);
  }
  try {
    storage_->addDeployment(deployment.id, deployment.app, deployment.storage);
  } catch (const storage::StorageError& error) {
    return std::string(error.what());
  }
  for (const auto& spec : deployment.storage) {
    logger_.debug("storage binding", {{"app", deployment.app},
                                      {"name", spec.name},
                                      {"kind", storageKindName(spec.kind)},
                                      {"backend", redactStorageUrl(spec.location)}});
  }
  return std::nullopt;
}

void Supervisor::describeBindings(const Deployment& deployment, ipc::LoadApp::Builder load) {
  auto storage = load.initStorage(static_cast<unsigned>(deployment.storage.size()));
  for (size_t i = 0; i < deployment.storage.size(); ++i) {
    auto item = storage[static_cast<unsigned>(i)];
    item.setName(deployment.storage[i].name);
    switch (deployment.storage[i].kind) {
      case StorageKind::kKv:
        item.setKind(ipc::StorageBinding::Kind::KV);
        break;
      case StorageKind::kDatabase:
        item.setKind(ipc::StorageBinding::Kind::DATABASE);
        break;
      case StorageKind::kStorage:
        item.setKind(ipc::StorageBinding::Kind::STORAGE);
        break;
    }
  }
  auto services = load.initServices(static_cast<unsigned>(deployment.services.size()));
  for (size_t i = 0; i < deployment.services.size(); ++i) {
    services.set(static_cast<unsigned>(i), deployment.services[i].name);
  }
}

void Supervisor::onWorkerBindingCall(WorkerProcess& worker, ipc::BindingCall::Reader call) {
  auto refuse = [&](const std::string& message) {
    capnp::MallocMessageBuilder reply;
    auto result = reply.initRoot<ipc::Envelope>().initBindingResult();
    result.setCallId(call.getCallId());
    result.setError(message);
    worker.send(reply);
  };
  uint32_t* requestCalls = requests_.storageCalls(worker.id(), call.getApp(), call.getParentId());
  if (requestCalls == nullptr) {
    logger_.warn(
        "a worker called a storage binding for a request it does not hold",
        {{"worker", worker.id()}, {"request", call.getParentId()}, {"app", call.getApp()}});
    return refuse("request " + std::to_string(call.getParentId()) +
                  " does not belong to this worker and app");
  }
  if (!storage_) {
    return refuse("this app has no storage binding named \"" + std::string(call.getBinding()) +
                  "\"");
  }
  storage_->call(worker.id(), *requestCalls, call);
}

}  // namespace isolated::supervisor
