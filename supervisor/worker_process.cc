// Spawning a worker and checking the order of what it says.
#include "supervisor/worker_process.h"

#include "ipc/protocol.h"

#include <signal.h>
#include <sys/socket.h>

#include "common/syscall.h"

namespace isolated::supervisor {

const char* workerStateName(WorkerState state) {
  switch (state) {
    case WorkerState::kStarting:
      return "starting";
    case WorkerState::kReady:
      return "ready";
    case WorkerState::kStopping:
      return "stopping";
    case WorkerState::kLost:
      return "lost";
  }
  return "unknown";
}

WorkerProcess::WorkerProcess(uint32_t id, event_base* base, const std::vector<std::string>& argv,
                             const ipc::FrameLimits& limits, WorkerEvents& events,
                             const SandboxPlan* sandbox)
    : id_(id), events_(events), spawnedAt_(Clock::now()), lastPingAt_(spawnedAt_) {
  int fds[2];
  checkedSyscall("socketpair", "worker channel",
                 [&] { return ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds); });
  UniqueFd ours(fds[0]);
  UniqueFd theirs(fds[1]);
  process_ = ChildProcess::spawn(argv, theirs, sandbox);
  theirs.reset();  // Only the child holds its end, so its exit is seen as EOF here.
  channel_ = std::make_unique<ipc::Channel>(base, std::move(ours), limits, *this);
}

bool WorkerProcess::ping() {
  if (pingSentAt_ || state_ == WorkerState::kLost) return false;
  capnp::MallocMessageBuilder message;
  message.initRoot<ipc::Envelope>().initPing().setSeq(++pingSeq_);
  channel_->send(message);
  pingSentAt_ = Clock::now();
  lastPingAt_ = *pingSentAt_;
  return true;
}

void WorkerProcess::shutdown(uint32_t deadlineMs) {
  if (state_ == WorkerState::kLost || state_ == WorkerState::kStopping) return;
  state_ = WorkerState::kStopping;
  shutdownSent_ = true;
  stoppingSince_ = Clock::now();
  capnp::MallocMessageBuilder message;
  message.initRoot<ipc::Envelope>().initShutdown().setDeadlineMs(deadlineMs);
  channel_->send(message);
}

void WorkerProcess::kill(const std::string& reason) {
  process_.signal(SIGKILL);
  if (state_ != WorkerState::kLost) {
    channel_->close();
    state_ = WorkerState::kLost;
    events_.onWorkerLost(*this, reason);
  }
}

void WorkerProcess::onMessage(ipc::Envelope::Reader message) {
  using E = ipc::Envelope;
  const bool helloSeen = state_ != WorkerState::kStarting;
  switch (message.which()) {
    case E::HELLO:
      if (helloSeen) return protocolViolation("second Hello");
      if (message.getHello().getProtocolVersion() != ipc::kProtocolVersion) {
        return protocolViolation(
            "protocol version " + std::to_string(message.getHello().getProtocolVersion()) +
            " (this supervisor speaks " + std::to_string(ipc::kProtocolVersion) +
            "): a worker binary from another build");
      }
      state_ = WorkerState::kReady;
      readyAt_ = Clock::now();
      events_.onWorkerReady(*this, message.getHello());
      return;
    case E::LOAD_ERROR: {
      if (!helloSeen) return protocolViolation("LoadError before Hello");
      uint32_t app = message.getLoadError().getApp();
      // A forgotten app may report a cold start that crossed the ForgetApp (rule 21).
      if (!defined.contains(app) && !forgotten.contains(app))
        return protocolViolation("LoadError for an app never loaded");
      isolates.erase(app);
      events_.onWorkerLoadError(*this, message.getLoadError());
      return;
    }
    case E::APP_LOADED: {
      if (!helloSeen) return protocolViolation("AppLoaded before Hello");
      uint32_t app = message.getAppLoaded().getApp();
      // A forgotten app may report a cold start that crossed the ForgetApp (rule 21).
      if (!defined.contains(app) && !forgotten.contains(app))
        return protocolViolation("AppLoaded for an app never loaded");
      isolates.insert(app);
      events_.onWorkerAppLoaded(*this, message.getAppLoaded());
      return;
    }
    case E::APP_EVICTED: {
      if (!helloSeen) return protocolViolation("AppEvicted before Hello");
      uint32_t app = message.getAppEvicted().getApp();
      // An eviction may cross an UnloadApp (the definition is gone here already).
      isolates.erase(app);
      events_.onWorkerAppEvicted(*this, message.getAppEvicted());
      return;
    }
    case E::RESPONSE:
      if (!helloSeen) return protocolViolation("Response before Hello");
      events_.onWorkerResponse(*this, message.getResponse());
      return;
    case E::BODY_CHUNK:
      if (!helloSeen) return protocolViolation("BodyChunk before Hello");
      events_.onWorkerBodyChunk(*this, message.getBodyChunk());
      return;
    case E::BODY_CREDIT:
      if (!helloSeen) return protocolViolation("BodyCredit before Hello");
      events_.onWorkerBodyCredit(*this, message.getBodyCredit());
      return;
    case E::PONG:
      if (message.getPong().getSeq() != pingSeq_) return protocolViolation("Pong out of order");
      pingSentAt_.reset();
      events_.onWorkerPong(*this, message.getPong());
      return;
    case E::LOG:
      events_.onWorkerLog(*this, message.getLog());
      return;
    case E::FETCH_START:
      if (!helloSeen) return protocolViolation("FetchStart before Hello");
      events_.onWorkerFetchStart(*this, message.getFetchStart());
      return;
    case E::FETCH_CREDIT:
      if (!helloSeen) return protocolViolation("FetchCredit before Hello");
      events_.onWorkerFetchCredit(*this, message.getFetchCredit());
      return;
    case E::FETCH_ABORT:
      if (!helloSeen) return protocolViolation("FetchAbort before Hello");
      events_.onWorkerFetchAbort(*this, message.getFetchAbort());
      return;
    case E::FETCH_UPLOAD:
      if (!helloSeen) return protocolViolation("FetchUpload before Hello");
      events_.onWorkerFetchUpload(*this, message.getFetchUpload());
      return;
    case E::BINDING_CALL:
      if (!helloSeen) return protocolViolation("BindingCall before Hello");
      events_.onWorkerBindingCall(*this, message.getBindingCall());
      return;
    default:
      return protocolViolation("message kind " + std::to_string(message.which()) +
                               " is not sent by workers");
  }
}

void WorkerProcess::protocolViolation(const std::string& what) {
  kill("protocol error: " + what);
}

void WorkerProcess::onClosed(const std::string& reason) {
  if (state_ == WorkerState::kLost) return;
  state_ = WorkerState::kLost;
  events_.onWorkerLost(*this, reason);
}

}  // namespace isolated::supervisor
