// The registry on the event loop: reads, writes and the listener's connection on one storage
// thread; notifications read on the loop.
#include "supervisor/registry/registry_sync.h"

#include <libpq-fe.h>

#include <algorithm>

namespace isolated::registry {

namespace {

// A head that cannot be applied because its app has a deploy loading is tried again after this.
constexpr std::chrono::milliseconds kBusyRetry{500};

bool unavailable(const std::exception& e) {
  return dynamic_cast<const storage::StorageUnavailable*>(&e) != nullptr;
}

}  // namespace

RegistrySync::RegistrySync(event_base* base, RegistryOptions options, Logger& logger,
                           RegistryApplier& applier, std::map<std::string, uint64_t> applied)
    : loop_(base),
      options_(std::move(options)),
      logger_(logger),
      applier_(applier),
      where_(registryWhere(options_.url)),
      store_(std::make_unique<RegistryStore>(options_.url, options_.timeout, options_.key)),
      applied_(std::move(applied)),
      pollTimer_(loop_, [this] { requestRead(); }),
      reconnectTimer_(loop_, [this] { connectListener(); }),
      retryTimer_(loop_, [this] { requestRead(); }),
      listenExecutor_(std::make_unique<storage::StorageExecutor>(base, 1)),
      executor_(std::make_unique<storage::StorageExecutor>(base, 1)) {}

RegistrySync::~RegistrySync() {
  // The executor goes first: a call in progress finishes and its completion is dropped, so no
  // completion runs against a half-destroyed object.
  executor_.reset();
  listenExecutor_.reset();
}

void RegistrySync::start() {
  if (started_) return;
  started_ = true;
  pollTimer_.start(static_cast<uint32_t>(options_.pollInterval.count()));
  connectListener();
}

void RegistrySync::noteFailure(const std::string& what, const std::string& error) {
  if (reachable_) {
    logger_.error("registry unreachable; serving the last known apps",
                  {{"registry", where_}, {"during", what}, {"error", error}});
  } else {
    logger_.debug("registry still unreachable", {{"during", what}, {"error", error}});
  }
  reachable_ = false;
}

void RegistrySync::noteSuccess() {
  if (!reachable_) logger_.info("registry reachable again", {{"registry", where_}});
  reachable_ = true;
}

// ---- the listener ----

void RegistrySync::connectListener() {
  if (connecting_ || listener_) return;
  connecting_ = true;
  RegistryStore* store = store_.get();
  listenExecutor_->submit([this, store]() -> std::function<void()> {
    try {
      std::shared_ptr<storage::PgConnection> conn = store->listen();
      return [this, conn] {
        connecting_ = false;
        listener_ = conn;
        // Replaces the event of a lost connection (never destroyed from its own callback).
        listenEvent_ =
            std::make_unique<event::FileEvent>(loop_, PQsocket(listener_->native()), EV_READ, false,
                                               [this](short) { onListenerReadable(); });
        backoff_ = kMinBackoff;
        noteSuccess();
        logger_.info("registry listening", {{"registry", where_}, {"channel", kNotifyChannel}});
        // Whatever changed while nobody listened is caught up now.
        requestRead();
      };
    } catch (const std::exception& e) {
      std::string error = e.what();
      return [this, error] {
        connecting_ = false;
        listenerLost(error);
      };
    }
  });
}

void RegistrySync::onListenerReadable() {
  PGconn* conn = listener_->native();
  // Non-blocking: reads what the socket holds and returns.
  if (PQconsumeInput(conn) == 0 || PQstatus(conn) != CONNECTION_OK) {
    std::string error = PQerrorMessage(conn);
    while (!error.empty() && (error.back() == '\n' || error.back() == ' '))
      error.pop_back();
    return listenerLost(error.empty() ? "the connection closed" : error);
  }
  bool notified = false;
  while (PGnotify* notify = PQnotifies(conn)) {
    logger_.debug("registry notification", {{"payload", notify->extra}});
    PQfreemem(notify);
    notified = true;
  }
  if (notified) requestRead();
}

void RegistrySync::listenerLost(const std::string& why) {
  // Stopped, not destroyed: this may run inside its callback; the next connection replaces it.
  if (listenEvent_) listenEvent_->disable();
  listener_.reset();
  noteFailure("listen", why);
  reconnectTimer_.arm(static_cast<uint32_t>(backoff_.count()));
  logger_.debug("registry listener reconnecting", {{"in_ms", backoff_.count()}});
  backoff_ = std::min(backoff_ * 2, kMaxBackoff);
}

// ---- reads ----

void RegistrySync::requestRead() {
  if (readRunning_) {
    readAgain_ = true;
    return;
  }
  readRunning_ = true;
  readAgain_ = false;
  RegistryStore* store = store_.get();
  uint64_t readEpoch = epoch_;
  std::map<std::string, uint64_t> known = applied_;
  executor_->submit([this, store, readEpoch, known]() -> std::function<void()> {
    auto result = std::make_shared<ReadResult>();
    try {
      result->heads = store->heads();
      for (const auto& [name, id] : result->heads) {
        auto it = known.find(name);
        if (it != known.end() && it->second == id) continue;
        try {
          result->records.emplace(id, store->readVersion(id));
        } catch (const std::exception& e) {
          if (unavailable(e)) throw;
          result->refused.emplace(id, e.what());
        }
      }
    } catch (const std::exception& e) {
      std::string error = e.what();
      return [this, error] {
        readRunning_ = false;
        noteFailure("read", error);
        if (readAgain_) requestRead();
      };
    }
    return [this, result, readEpoch] {
      readRunning_ = false;
      noteSuccess();
      onRead(std::move(*result), readEpoch);
      if (readAgain_) requestRead();
    };
  });
}

void RegistrySync::onRead(ReadResult result, uint64_t readEpoch) {
  auto writtenSince = [&](const std::string& name) {
    auto it = touched_.find(name);
    return it != touched_.end() && it->second > readEpoch;
  };
  bool retry = false;
  // A read older than one of this server's writes is read again at once (now newer than the
  // write), so a version another server wrote meanwhile is not left to the periodic re-read.
  bool stale = false;
  for (const auto& [name, id] : result.heads) {
    if (writtenSince(name)) {
      stale = true;
      continue;
    }
    auto applied = applied_.find(name);
    if (applied != applied_.end() && applied->second == id) continue;
    if (auto refused = result.refused.find(id); refused != result.refused.end()) {
      applied_[name] = id;  // once: a version that cannot be read here is not read again
      logger_.error("registry app not applied",
                    {{"app", name}, {"registry_version", id}, {"error", refused->second}});
      continue;
    }
    auto record = result.records.find(id);
    if (record == result.records.end()) continue;  // read before this server knew the name
    bool busy = false;
    std::string appName = name;
    uint64_t version = id;
    auto error = applier_.applyRegistryVersion(
        configOf(record->second),
        [this, appName, version](const std::optional<std::string>& failure) {
          if (failure) {
            logger_.error("registry version failed to load here; the old version keeps serving",
                          {{"app", appName}, {"registry_version", version}, {"error", *failure}});
          } else {
            logger_.info("registry version applied",
                         {{"app", appName}, {"registry_version", version}});
          }
        },
        busy);
    if (busy) {
      retry = true;
      continue;
    }
    applied_[name] = id;
    if (error) {
      logger_.error("registry app not applied",
                    {{"app", name}, {"registry_version", id}, {"error", *error}});
    } else {
      logger_.info("applying registry version", {{"app", name}, {"registry_version", id}});
    }
  }
  std::vector<std::string> gone;
  for (const auto& [name, id] : applied_) {
    if (result.heads.contains(name)) continue;
    if (writtenSince(name)) {
      stale = true;
    } else {
      gone.push_back(name);
    }
  }
  for (const auto& name : gone) {
    applied_.erase(name);
    logger_.info("registry app removed", {{"app", name}});
    applier_.removeRegistryApp(name);
  }
  if (stale) readAgain_ = true;
  if (retry) {
    retryTimer_.arm(static_cast<uint32_t>(kBusyRetry.count()));
  }
}

// ---- writes ----

void RegistrySync::publish(AppRecord record, WriteDone done) {
  RegistryStore* store = store_.get();
  std::string createdBy = options_.serverName;
  auto shared = std::make_shared<AppRecord>(std::move(record));
  executor_->submit([this, store, shared, createdBy, done]() -> std::function<void()> {
    try {
      uint64_t id = store->publish(*shared, createdBy);
      return [this, shared, id, done] {
        noteSuccess();
        touched_[shared->name] = ++epoch_;
        applied_[shared->name] = id;
        logger_.info("registry version written",
                     {{"app", shared->name}, {"registry_version", id}, {"registry", where_}});
        done(std::nullopt);
      };
    } catch (const std::exception& e) {
      std::string error = e.what();
      bool down = unavailable(e);
      return [this, error, down, done] {
        if (down) noteFailure("write", error);
        done("the registry was not written: " + error);
      };
    }
  });
}

void RegistrySync::remove(const std::string& name, WriteDone done) {
  RegistryStore* store = store_.get();
  executor_->submit([this, store, name, done]() -> std::function<void()> {
    try {
      bool existed = store->remove(name);
      return [this, name, existed, done] {
        noteSuccess();
        touched_[name] = ++epoch_;
        applied_.erase(name);
        logger_.info("registry app removed by this server",
                     {{"app", name}, {"existed", existed}, {"registry", where_}});
        done(std::nullopt);
      };
    } catch (const std::exception& e) {
      std::string error = e.what();
      bool down = unavailable(e);
      return [this, error, down, done] {
        if (down) noteFailure("write", error);
        done("the registry was not written: " + error);
      };
    }
  });
}

}  // namespace isolated::registry
