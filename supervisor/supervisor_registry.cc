// Supervisor: the app registry (--registry; docs/registry.md). Versions written by any server
// sharing the registry are applied here through the same validate-then-switch path as a local
// deploy; a `ctl deploy` here is validated by a worker, then written, then switched; a `ctl
// undeploy` of a registry app is written first, then applied.
#include <unistd.h>

#include <algorithm>

#include "supervisor/registry/registry_boot.h"
#include "supervisor/supervisor.h"

namespace isolated::supervisor {

void Supervisor::startRegistry() {
  if (config_.registryUrl.empty()) return;
  auto key = registry::loadRegistryKey(config_);
  if (auto* error = std::get_if<std::string>(&key)) throw std::runtime_error(*error);
  char host[256] = "?";
  ::gethostname(host, sizeof host - 1);
  registry::RegistryOptions options;
  options.url = config_.registryUrl;
  options.key = std::get<std::optional<registry::SecretKey>>(std::move(key));
  options.timeout = registry::kRegistryTimeout;
  options.serverName = std::string(host) + ":" + std::to_string(::getpid());
  std::map<std::string, uint64_t> applied;
  for (const auto& app : config_.apps) {
    if (app.registryVersion != 0) applied[app.name] = app.registryVersion;
  }
  registry_ = std::make_unique<registry::RegistrySync>(base_, std::move(options), logger_, *this,
                                                       std::move(applied));
}

std::optional<std::string> Supervisor::applyRegistryVersion(AppConfig config,
                                                            registry::SettleCallback settled,
                                                            bool& busy) {
  // A paused server or an app with a deploy loading takes the version a little later.
  App* app = apps_.find(config.name);
  if (phase_ == Phase::kPaused || phase_ == Phase::kBooting || (app != nullptr && app->candidate)) {
    busy = true;
    return std::nullopt;
  }
  return deploy(std::move(config), std::move(settled));
}

void Supervisor::removeRegistryApp(const std::string& name) {
  if (apps_.find(name) != nullptr) undeploy(name);
}

void Supervisor::markForRegistry(const std::string& name) {
  // Forget candidates that settled without reaching the registry (refused by their worker).
  std::erase_if(toPublish_, [&](uint32_t id) {
    App* owner = apps_.appOf(id);
    return owner == nullptr || !owner->candidate || owner->candidate->id != id;
  });
  App* app = apps_.find(name);
  if (app != nullptr && app->candidate) toPublish_.insert(app->candidate->id);
}

bool Supervisor::holdForRegistry(App& app) {
  if (!registry_ || !app.candidate) return false;
  uint32_t id = app.candidate->id;
  if (publishing_.contains(id)) return true;  // validated again elsewhere: the write decides
  if (toPublish_.erase(id) == 0) return false;
  const Deployment& candidate = *app.candidate;
  if (candidate.modules.empty()) {
    rejectCandidate(app,
                    "its files were not pinned (over 16 MB of source, or changed while the "
                    "version was validated), so the registry cannot hold them");
    return true;
  }
  const AppConfig& config = app.candidateConfig ? *app.candidateConfig : app.config;
  publishing_.insert(id);
  registry_->publish(registry::recordOf(config, candidate.bindings, candidate.modules),
                     [this, id](const std::optional<std::string>& error) {
                       publishing_.erase(id);
                       App* owner = apps_.appOf(id);
                       if (owner == nullptr || !owner->candidate || owner->candidate->id != id) {
                         // Undeployed (or refused) while the write ran; a later read of the
                         // registry settles it.
                         return;
                       }
                       if (error) return rejectCandidate(*owner, *error);
                       promoteCandidate(*owner);
                     });
  return true;
}

std::optional<nlohmann::json> Supervisor::registryUndeploy(const std::string& name,
                                                           const ControlResponder& respond) {
  std::string where = registry_->where();
  registry_->remove(name, [this, name, where, respond](const std::optional<std::string>& error) {
    if (error) {
      respond(
          {{"ok", false},
           {"error", "undeploy of '" + name + "' refused: " + *error + "; the app keeps serving"}});
      return;
    }
    if (auto local = undeploy(name)) {
      respond({{"ok", false}, {"error", "removed from the registry, but here: " + *local}});
      return;
    }
    respond({{"ok", true},
             {"message", "undeployed '" + name + "' from the registry at " + where +
                             "; every server sharing it undeploys it"}});
  });
  return std::nullopt;
}

}  // namespace isolated::supervisor
