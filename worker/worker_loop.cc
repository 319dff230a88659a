// Message handling for the worker side of the channel.
#include "worker/worker_loop.h"

#include <unistd.h>

#include <capnp/message.h>

#include <algorithm>

#include "common/version.h"
#include "ipc/protocol.h"

namespace isolated::worker {

void WorkerLoop::breakProtocol(const std::string& why) {
  logger_.error("worker: the supervisor broke the protocol; closing the channel", {{"error", why}});
  channel_->close();
  event_base_loopbreak(base_);
}

void WorkerLoop::onMessage(ipc::Envelope::Reader message) {
  if (!configured_ && !message.isConfigure()) {
    breakProtocol("the first message was not Configure (kind " +
                  std::to_string(static_cast<int>(message.which())) + ")");
    return;
  }
  std::string error;
  switch (message.which()) {
    case ipc::Envelope::CONFIGURE:
      if (configured_) {
        breakProtocol("a second Configure");
        return;
      }
      onConfigure(message.getConfigure());
      return;
    case ipc::Envelope::LOAD_APP:
      if (!registry_->loadApp(message.getLoadApp(), error)) {
        breakProtocol(error);
        return;
      }
      break;
    case ipc::Envelope::UNLOAD_APP:
      registry_->unloadApp(message.getUnloadApp().getApp());
      break;
    case ipc::Envelope::FORGET_APP:
      registry_->forgetApp(message.getForgetApp().getApp());
      break;
    case ipc::Envelope::EVICT_IDLE:
      registry_->evictIdle();
      break;
    case ipc::Envelope::REQUEST_START:
    case ipc::Envelope::SCHEDULED:
      if (!shutdown_ && !registry_->dispatch(message, error)) {
        breakProtocol(error);
        return;
      }
      break;
    case ipc::Envelope::REQUEST_CANCEL:
      // The supervisor has answered the client already. The handler keeps running (it may
      // share state with other requests), but nothing is ever sent for the id.
      registry_->cancel(message.getRequestCancel().getId());
      break;
    case ipc::Envelope::FETCH_HEAD:
    case ipc::Envelope::FETCH_BODY:
    case ipc::Envelope::FETCH_FAILED:
    case ipc::Envelope::FETCH_UPLOAD_CREDIT:
      registry_->onFetchMessage(message);
      break;
    case ipc::Envelope::BINDING_RESULT:
      registry_->onBindingResult(message.getBindingResult());
      break;
    case ipc::Envelope::BODY_CHUNK:
      if (!registry_->bodyChunk(message.getBodyChunk())) {
        breakProtocol("a request body beyond its window (request " +
                      std::to_string(message.getBodyChunk().getId()) + ")");
        return;
      }
      break;
    case ipc::Envelope::BODY_CREDIT:
      registry_->bodyCredit(message.getBodyCredit());
      break;
    case ipc::Envelope::PING:
      answerPing(message.getPing().getSeq());
      break;
    case ipc::Envelope::SHUTDOWN: {
      shutdown_ = true;
      // Leave a margin before the supervisor's kill so the abandonment is logged and flushed.
      uint32_t deadlineMs = message.getShutdown().getDeadlineMs();
      long ms = static_cast<long>(deadlineMs) - std::min<long>(1000, deadlineMs / 10);
      shutdownDeadline_.reset(event_new(
          base_, -1, 0,
          [](evutil_socket_t, short, void* self) {
            static_cast<WorkerLoop*>(self)->onShutdownDeadline();
          },
          this));
      timeval tv = millisToTimeval(std::max<long>(ms, 0));
      event_add(shutdownDeadline_.get(), &tv);
      break;
    }
    default:
      logger_.warn("worker ignored an unexpected message",
                   {{"kind", static_cast<int>(message.which())}});
      break;
  }
  exitIfDrained();
}

void WorkerLoop::orderBatch(std::span<const ipc::Envelope::Reader> batch,
                            std::vector<uint32_t>& order) {
  if (registry_ == nullptr) return;
  entries_.clear();
  batchStarted_.clear();
  bool mixed = false;
  for (ipc::Envelope::Reader message : batch) {
    entries_.push_back(registry_->batchEntry(message, batchStarted_));
    mixed = mixed || entries_.back().app != entries_.front().app;
  }
  // One app (or only barriers): arrival order, nothing to compute.
  if (mixed) fair_.order(entries_, order);
}

void WorkerLoop::onConfigure(ipc::Configure::Reader configure) {
  uint32_t theirs = configure.getProtocolVersion();
  if (theirs != ipc::kProtocolVersion) {
    // Rule 0: refuse, naming both versions; the supervisor replaces the worker.
    logger_.error("worker: protocol version mismatch; this worker speaks version " +
                      std::to_string(ipc::kProtocolVersion) + ", the supervisor version " +
                      std::to_string(theirs),
                  {{"worker_protocol", ipc::kProtocolVersion}, {"supervisor_protocol", theirs}});
    channel_->close();
    event_base_loopbreak(base_);
    return;
  }
  configured_ = true;
  registry_->configure(configure.getMaxIsolates(),
                       std::chrono::milliseconds(configure.getIsolateIdleTimeoutMs()));
  // 0 (an older supervisor): the default.
  if (uint32_t ms = configure.getWaitUntilTimeoutMs(); ms > 0) {
    registry_->setWaitUntilTimeout(std::chrono::milliseconds(ms));
  }
  capnp::MallocMessageBuilder message;
  auto hello = message.initRoot<ipc::Envelope>().initHello();
  hello.setPid(static_cast<uint32_t>(getpid()));
  hello.setVersion(kVersion);
  hello.setProtocolVersion(ipc::kProtocolVersion);
  hello.setStartupMs(
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_)
          .count());
  send(message);
}

void WorkerLoop::onShutdownDeadline() {
  if (registry_->backgroundTasks() > 0) {
    registry_->abandonBackground("the shutdown deadline has come");
  }
  event_base_loopexit(base_, nullptr);
}

void WorkerLoop::answerPing(uint64_t seq) {
  // The probe runs first: it may rebuild an isolate, and the statistics describe what serves
  // from now on.
  bool probeOk = registry_->probe();
  capnp::MallocMessageBuilder reply;
  auto pong = reply.initRoot<ipc::Envelope>().initPong();
  pong.setSeq(seq);
  HeapStats heap = registry_->heapStats();
  pong.setHeapUsedBytes(heap.usedBytes);
  pong.setHeapTotalBytes(heap.totalBytes);
  pong.setHeapLimitBytes(heap.limitBytes);
  pong.setExternalBytes(heap.externalBytes);
  pong.setRequestsInFlight(static_cast<uint32_t>(registry_->inFlight()));
  pong.setEventLoopLagMs(lag_.takeWorstMs());
  pong.setProbeOk(probeOk);
  HostCounters counters = registry_->counters();
  pong.setRequestsServed(counters.requestsServed);
  pong.setCpuLimitTerminations(counters.cpuLimitTerminations);
  pong.setMemoryLimitTerminations(counters.memoryLimitTerminations);
  pong.setRebuilds(counters.rebuilds);
  pong.setDroppedLogLines(registry_->droppedLogLines());
  pong.setIsolatesLoaded(registry_->isolatesLoaded());
  pong.setAppsDefined(static_cast<uint32_t>(registry_->appsDefined()));
  pong.setTimersPending(static_cast<uint32_t>(registry_->timersPending()));
  auto usage = registry_->takeUsage();
  auto apps = pong.initApps(static_cast<unsigned>(usage.size()));
  for (unsigned i = 0; i < usage.size(); ++i) {
    apps[i].setApp(usage[i].app);
    apps[i].setCpuMicros(usage[i].cpuMicros);
    apps[i].setHeapUsedBytes(usage[i].heapUsedBytes);
    apps[i].setCpuLimitTerminations(usage[i].cpuLimitTerminations);
    apps[i].setMemoryLimitTerminations(usage[i].memoryLimitTerminations);
  }
  send(reply);
}

void WorkerLoop::onClosed(const std::string& reason) {
  // The supervisor is gone (or broke the protocol): nobody can receive answers any more.
  logger_.debug("worker channel closed", {{"reason", reason}});
  event_base_loopbreak(base_);
}

void WorkerLoop::exitIfDrained() {
  if (shutdown_ && registry_->inFlight() == 0 && registry_->backgroundTasks() == 0) {
    event_base_loopexit(base_, nullptr);
  }
}

}  // namespace isolated::worker
