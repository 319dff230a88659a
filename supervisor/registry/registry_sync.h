// Keeps one server's apps in step with the registry, on the supervisor's event loop, without
// ever blocking it: every SQL call runs on a storage thread (RegistryStore through a
// StorageExecutor of one thread, so calls run in the order they were made) and its result comes
// back to the loop; the LISTEN connection, once made on a thread of its own, is watched on the loop
// with a libevent read event and read with the non-blocking PQconsumeInput/PQnotifies.
//
// A NOTIFY, a (re)connected listener, and a timer every `pollInterval` (the safety net for a
// lost notification) each ask for a read of the registry's heads; reads are coalesced. A head
// whose version this server has not applied is applied once (the version id is remembered even
// when it fails to load here), through RegistryApplier: the same validate-then-switch path as a
// local deploy. An app the registry no longer holds is undeployed. When PostgreSQL goes away the
// server keeps serving what it has, logs once, reconnects the listener with backoff (up to
// kMaxBackoff) and catches up with a full read when it is back.
//
// Ordering: a read made before one of this server's own writes (publish, remove) completed
// says nothing about that app: it is skipped for it, so a stale read never undoes a write.
//
// Lifetime: construct and destroy on the loop thread, before the event_base is freed; the
// destructor waits for a storage call in progress (each bounded by the timeout).
#pragma once

#include <event2/event.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/app_config.h"
#include "common/logger.h"
#include "event/dispatcher.h"
#include "supervisor/registry/app_record.h"
#include "supervisor/registry/registry_store.h"
#include "supervisor/storage/storage_executor.h"

namespace isolated::registry {

using SettleCallback = std::function<void(const std::optional<std::string>& error)>;

// What the supervisor does for the registry (implemented by Supervisor).
class RegistryApplier {
 public:
  virtual ~RegistryApplier() = default;
  // Deploys `config` (an app from the registry, files pinned) like `ctl deploy`: `settled` is
  // told when it serves or failed to load. Returns an error at once when the deploy cannot
  // start; sets `busy` when the app has another deploy loading (the caller tries again later).
  virtual std::optional<std::string> applyRegistryVersion(AppConfig config, SettleCallback settled,
                                                          bool& busy) = 0;
  // Undeploys an app the registry no longer holds.
  virtual void removeRegistryApp(const std::string& name) = 0;
};

struct RegistryOptions {
  std::string url;
  std::optional<SecretKey> key;
  std::chrono::milliseconds timeout{5000};
  std::chrono::milliseconds pollInterval{10000};
  // Written as created_by on every version this server publishes.
  std::string serverName;
};

class RegistrySync {
 public:
  using WriteDone = std::function<void(const std::optional<std::string>& error)>;
  static constexpr std::chrono::milliseconds kMinBackoff{250};
  static constexpr std::chrono::milliseconds kMaxBackoff{10000};

  // `applied`: the registry apps the server booted with (name -> version id).
  RegistrySync(event_base* base, RegistryOptions options, Logger& logger, RegistryApplier& applier,
               std::map<std::string, uint64_t> applied);
  ~RegistrySync();
  RegistrySync(const RegistrySync&) = delete;
  RegistrySync& operator=(const RegistrySync&) = delete;

  // Starts listening and the periodic re-read.
  void start();
  // Whether `name` is an app of the registry (this server applied a version of it).
  bool holds(const std::string& name) const { return applied_.contains(name); }
  bool hasKey() const { return store_->key().has_value(); }
  const std::string& where() const { return where_; }
  // Whether the last registry operation succeeded, and whether notifications are heard.
  bool reachable() const { return reachable_; }
  bool listening() const { return listener_ != nullptr; }

  // Writes `record` as the app's new current version (one transaction, with the NOTIFY).
  // `done` runs on the loop: nullopt once written (the app is then held at that version), or
  // why it was not written.
  void publish(AppRecord record, WriteDone done);
  // Removes the app from the registry; `done` as for publish.
  void remove(const std::string& name, WriteDone done);

 private:
  struct ReadResult {
    std::map<std::string, uint64_t> heads;
    std::map<uint64_t, AppRecord> records;
    // Versions that cannot be applied here (no key, a bad definition): not retried.
    std::map<uint64_t, std::string> refused;
  };
  void requestRead();
  void onRead(ReadResult result, uint64_t readEpoch);
  void connectListener();
  void onListenerReadable();
  void listenerLost(const std::string& why);
  // Logs the first failure of an outage and the recovery, once each.
  void noteFailure(const std::string& what, const std::string& error);
  void noteSuccess();

  event::Dispatcher loop_;  // borrowed base
  RegistryOptions options_;
  Logger& logger_;
  RegistryApplier& applier_;
  std::string where_;
  // Used only by jobs on the storage thread.
  std::unique_ptr<RegistryStore> store_;
  // Name -> the version applied (or being applied) here.
  std::map<std::string, uint64_t> applied_;
  // Name -> the epoch of this server's last write of it; reads older than that skip the app.
  std::map<std::string, uint64_t> touched_;
  uint64_t epoch_ = 0;
  bool readRunning_ = false;
  bool readAgain_ = false;
  bool started_ = false;
  bool reachable_ = true;
  bool connecting_ = false;
  std::chrono::milliseconds backoff_ = kMinBackoff;
  // Shared only to cross from the storage thread; the loop is its one user once it arrives.
  std::shared_ptr<storage::PgConnection> listener_;
  // Null until the first connection; disabled while none is up.
  std::unique_ptr<event::FileEvent> listenEvent_;
  event::PeriodicTimer pollTimer_;
  event::Timer reconnectTimer_;
  event::Timer retryTimer_;
  // Last: destroyed first, so no job or completion outlives what it uses. Reads and writes
  // share one thread (their order matters); the listener connects on its own, so that a
  // connect attempt to a hung server never delays a deploy's write.
  std::unique_ptr<storage::StorageExecutor> listenExecutor_;
  std::unique_ptr<storage::StorageExecutor> executor_;
};

}  // namespace isolated::registry
