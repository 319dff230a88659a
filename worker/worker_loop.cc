// Message handling for the worker side of the channel.
#include "worker/worker_loop.h"

#include <capnp/message.h>

#include <algorithm>

namespace isolated::worker {

void WorkerLoop::onMessage(ipc::Envelope::Reader message) {
  if (!configured_ && !message.isConfigure()) {
    logger_.error("worker: the supervisor's first message was not Configure",
                  {{"kind", static_cast<int>(message.which())}});
    channel_->close();
    event_base_loopbreak(base_);
    return;
  }
  switch (message.which()) {
    case ipc::Envelope::CONFIGURE:
      if (configured_) {
        logger_.error("worker: a second Configure");
        channel_->close();
        event_base_loopbreak(base_);
        return;
      }
      onConfigure(message.getConfigure());
      return;
    case ipc::Envelope::REQUEST_START:
      if (!shutdown_ && !host_->holdIfBackground(message)) {
        host_->dispatch(message.getRequestStart());
      }
      break;
    case ipc::Envelope::SCHEDULED:
      if (!shutdown_ && !host_->holdIfBackground(message)) {
        host_->dispatchScheduled(message.getScheduled());
      }
      break;
    case ipc::Envelope::REQUEST_CANCEL:
      // The supervisor has answered the client already. The handler keeps running (it may
      // share state with other requests), but nothing is ever sent for the id.
      host_->cancel(message.getRequestCancel().getId());
      break;
    case ipc::Envelope::FETCH_HEAD:
    case ipc::Envelope::FETCH_BODY:
    case ipc::Envelope::FETCH_FAILED:
    case ipc::Envelope::FETCH_UPLOAD_CREDIT:
      host_->onFetchMessage(message);
      break;
    case ipc::Envelope::BODY_CHUNK:
      if (!host_->bodyChunk(message.getBodyChunk())) {
        logger_.error("the supervisor sent a request body beyond its window; closing",
                      {{"request", message.getBodyChunk().getId()}});
        channel_->close();
        event_base_loopbreak(base_);
        return;
      }
      break;
    case ipc::Envelope::BODY_CREDIT:
      host_->bodyCredit(message.getBodyCredit());
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

void WorkerLoop::onConfigure(ipc::Configure::Reader configure) {
  configured_ = true;
  for (auto binding : configure.getBindings()) {
    bindings_.push_back({binding.getName().cStr(), binding.getValue().cStr(), binding.getJson()});
  }
  // workerMain runs the loop only until this arrives, then loads the script.
  event_base_loopbreak(base_);
}

void WorkerLoop::onShutdownDeadline() {
  if (host_->backgroundTasks() > 0) {
    host_->abandonBackground("the shutdown deadline has come");
  }
  event_base_loopexit(base_, nullptr);
}

void WorkerLoop::answerPing(uint64_t seq) {
  // The probe runs first: it may rebuild the isolate, and the statistics describe what serves
  // from now on.
  bool probeOk = host_->probe();
  capnp::MallocMessageBuilder reply;
  auto pong = reply.initRoot<ipc::Envelope>().initPong();
  pong.setSeq(seq);
  HeapStats heap = host_->heapStats();
  pong.setHeapUsedBytes(heap.usedBytes);
  pong.setHeapTotalBytes(heap.totalBytes);
  pong.setHeapLimitBytes(heap.limitBytes);
  pong.setExternalBytes(heap.externalBytes);
  pong.setRequestsInFlight(static_cast<uint32_t>(host_->inFlight()));
  pong.setEventLoopLagMs(lag_.takeWorstMs());
  pong.setProbeOk(probeOk);
  const HostCounters& counters = host_->counters();
  pong.setRequestsServed(counters.requestsServed);
  pong.setCpuLimitTerminations(counters.cpuLimitTerminations);
  pong.setMemoryLimitTerminations(counters.memoryLimitTerminations);
  pong.setRebuilds(counters.rebuilds);
  pong.setDroppedLogLines(host_->droppedLogLines());
  send(reply);
}

void WorkerLoop::onClosed(const std::string& reason) {
  // The supervisor is gone (or broke the protocol): nobody can receive answers any more.
  logger_.debug("worker channel closed", {{"reason", reason}});
  event_base_loopbreak(base_);
}

void WorkerLoop::exitIfDrained() {
  if (shutdown_ && host_->inFlight() == 0 && host_->backgroundTasks() == 0) {
    event_base_loopexit(base_, nullptr);
  }
}

}  // namespace isolated::worker
