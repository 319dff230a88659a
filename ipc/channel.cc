// Channel: a bufferevent that speaks framed Cap'n Proto.
#include "ipc/channel.h"

#include <capnp/serialize.h>
#include <kj/exception.h>
#include <sys/socket.h>

#include "common/syscall.h"
#include "ipc/framing.h"

namespace isolated::ipc {

Channel::Channel(event_base* base, UniqueFd socket, const FrameLimits& limits,
                 ChannelHandler& handler)
    : limits_(limits), handler_(handler) {
  evutil_make_socket_nonblocking(socket.get());
  bev_.reset(bufferevent_socket_new(base, socket.release(), BEV_OPT_CLOSE_ON_FREE));
  if (!bev_) throw std::runtime_error("bufferevent_socket_new failed");
  bufferevent_setcb(bev_.get(), &Channel::onRead, nullptr, &Channel::onEvent, this);
  bufferevent_enable(bev_.get(), EV_READ | EV_WRITE);
}

void Channel::send(capnp::MessageBuilder& message) {
  if (closed_) return;
  encodeFrame(message, bufferevent_get_output(bev_.get()));
}

size_t Channel::pendingOutputBytes() const {
  return closed_ ? 0 : evbuffer_get_length(bufferevent_get_output(bev_.get()));
}

void Channel::close() {
  if (bev_) {
    // libevent closes the fd only when it finalizes the bufferevent, on a later loop turn; shut
    // the socket now so the peer sees EOF at once.
    ::shutdown(bufferevent_getfd(bev_.get()), SHUT_RDWR);
  }
  closed_ = true;
  bev_.reset();
}

void Channel::onRead(bufferevent*, void* self) {
  static_cast<Channel*>(self)->readFrames();
}

void Channel::onEvent(bufferevent*, short what, void* self) {
  auto* channel = static_cast<Channel*>(self);
  if (what & BEV_EVENT_EOF) {
    channel->fail("peer closed the channel");
  } else if (what & BEV_EVENT_ERROR) {
    channel->fail("channel error: " + errnoText(EVUTIL_SOCKET_ERROR()));
  }
}

void Channel::readFrames() {
  evbuffer* in = bufferevent_get_input(bev_.get());
  capnp::ReaderOptions options;
  options.traversalLimitInWords = limits_.traversalLimitWords;
  options.nestingLimit = limits_.nestingLimit;
  while (!closed_) {
    DecodeResult frame = decodeFrame(in, limits_);
    if (frame.status == DecodeStatus::kNeedMore) return;
    if (frame.status == DecodeStatus::kError) {
      fail("protocol error: " + frame.error);
      return;
    }
    std::string error;
    {
      // kj reports malformed messages by throwing; a bad message must close only this channel.
      KJ_IF_MAYBE (exception, kj::runCatchingExceptions([&]() {
                     capnp::FlatArrayMessageReader reader(frame.words, options);
                     handler_.onMessage(reader.getRoot<Envelope>());
                   })) {
        error = "malformed message: " + std::string(exception->getDescription().cStr());
      }
    }
    if (!error.empty()) {
      fail(error);
      return;
    }
  }
}

void Channel::fail(const std::string& reason) {
  if (closed_) return;
  close();
  handler_.onClosed(reason);
}

}  // namespace isolated::ipc
