// Channel: a socket that speaks framed Cap'n Proto, read and written straight from evbuffers.
#include "ipc/channel.h"

#include <capnp/serialize.h>
#include <kj/exception.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>

#include "common/syscall.h"
#include "ipc/framing.h"

namespace isolated::ipc {
namespace {

// Most reads are one small batch of messages, so the first read of a callback asks for little
// (a large reservation would be a large allocation and free per read); a read that fills it
// continues with larger ones. One callback reads at most kMaxReadPerCallback, so one busy peer
// cannot starve the loop, and the input holds at most that plus one partial frame.
constexpr size_t kFirstRead = 4096;
constexpr size_t kLargeRead = 64 * 1024;
constexpr size_t kMaxReadPerCallback = 256 * 1024;

bool wouldBlock(int error) {
  return error == EAGAIN || error == EWOULDBLOCK;
}

// One sendmsg of the buffer's first chunks, drained by what was sent. MSG_NOSIGNAL: a peer that
// has gone is an EPIPE for this channel, never a SIGPIPE for the process.
ssize_t writeQueued(evbuffer* out, int fd) {
  constexpr int kMaxChunks = 64;
  evbuffer_iovec chunks[kMaxChunks];
  int available = evbuffer_peek(out, -1, nullptr, chunks, kMaxChunks);
  iovec iov[kMaxChunks];
  int count = std::min(available, kMaxChunks);
  for (int i = 0; i < count; ++i)
    iov[i] = {chunks[i].iov_base, chunks[i].iov_len};
  msghdr message{};
  message.msg_iov = iov;
  message.msg_iovlen = static_cast<size_t>(count);
  ssize_t sent = ::sendmsg(fd, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (sent > 0) evbuffer_drain(out, static_cast<size_t>(sent));
  return sent;
}

}  // namespace

Channel::Channel(event_base* base, UniqueFd socket, const FrameLimits& limits,
                 ChannelHandler& handler)
    : limits_(limits),
      handler_(handler),
      socket_(std::move(socket)),
      input_(evbuffer_new()),
      output_(evbuffer_new()) {
  evutil_make_socket_nonblocking(socket_.get());
  readEvent_.reset(
      event_new(base, socket_.get(), EV_READ | EV_PERSIST, &Channel::onReadable, this));
  writeEvent_.reset(
      event_new(base, socket_.get(), EV_WRITE | EV_PERSIST, &Channel::onWritable, this));
  flushEvent_.reset(event_new(base, -1, 0, &Channel::onFlushDue, this));
  if (!input_ || !output_ || !readEvent_ || !writeEvent_ || !flushEvent_ ||
      event_add(readEvent_.get(), nullptr) != 0) {
    throw std::runtime_error("cannot set up the IPC channel's events");
  }
}

void Channel::send(capnp::MessageBuilder& message) {
  if (closed_) return;
  encodeFrame(message, output_.get());
  if (!flushDue_ && !waitingForWritable_) {
    flushDue_ = true;
    event_active(flushEvent_.get(), EV_WRITE, 0);
  }
}

size_t Channel::pendingOutputBytes() const {
  return closed_ ? 0 : evbuffer_get_length(output_.get());
}

void Channel::close() {
  if (closed_) return;
  closed_ = true;
  // The buffers stay: close() may be called from a handler while a frame from input_ is being
  // read, and they are freed with the Channel.
  readEvent_.reset();
  writeEvent_.reset();
  flushEvent_.reset();
  ::shutdown(socket_.get(), SHUT_RDWR);
  socket_.reset();
}

void Channel::onReadable(evutil_socket_t, short, void* self) {
  static_cast<Channel*>(self)->readAvailable();
}

void Channel::onWritable(evutil_socket_t, short, void* self) {
  static_cast<Channel*>(self)->flush();
}

void Channel::onFlushDue(evutil_socket_t, short, void* self) {
  auto* channel = static_cast<Channel*>(self);
  channel->flushDue_ = false;
  if (!channel->waitingForWritable_) channel->flush();
}

void Channel::readAvailable() {
  bool peerClosed = false;
  std::string error;
  size_t want = kFirstRead;
  for (size_t total = 0; total < kMaxReadPerCallback;) {
    evbuffer_iovec space[2];
    int chunks = evbuffer_reserve_space(input_.get(), static_cast<ev_ssize_t>(want), space, 2);
    if (chunks <= 0) {
      error = "cannot grow the input buffer";
      break;
    }
    iovec iov[2];
    size_t reserved = 0;
    for (int i = 0; i < chunks; ++i) {
      iov[i] = {space[i].iov_base, space[i].iov_len};
      reserved += space[i].iov_len;
    }
    ssize_t got = ::readv(socket_.get(), iov, chunks);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (!wouldBlock(errno)) error = errnoText(errno);
      break;
    }
    if (got == 0) {
      peerClosed = true;
      break;
    }
    size_t left = static_cast<size_t>(got);
    int used = 0;
    for (; used < chunks && left > 0; ++used) {
      space[used].iov_len = std::min(space[used].iov_len, left);
      left -= space[used].iov_len;
    }
    evbuffer_commit_space(input_.get(), space, used);
    total += static_cast<size_t>(got);
    if (static_cast<size_t>(got) < reserved) break;  // The socket is empty for now.
    want = kLargeRead;
  }
  // Frames that arrived before an EOF or error are still delivered, in order.
  readFrames();
  if (closed_) return;
  if (!error.empty()) {
    fail("channel error: " + error);
  } else if (peerClosed) {
    fail("peer closed the channel");
  }
}

void Channel::flush() {
  while (!closed_) {
    size_t queued = evbuffer_get_length(output_.get());
    if (queued == 0) break;
    ssize_t written = writeQueued(output_.get(), socket_.get());
    if (written < 0) {
      if (errno == EINTR) continue;
      if (wouldBlock(errno)) break;
      fail("channel error: " + errnoText(errno));
      return;
    }
    // A short write means the socket buffer is full; another write now would only fail.
    if (static_cast<size_t>(written) < queued) break;
  }
  if (closed_) return;
  bool pending = evbuffer_get_length(output_.get()) > 0;
  if (pending != waitingForWritable_) {
    waitingForWritable_ = pending;
    if (pending) {
      event_add(writeEvent_.get(), nullptr);
    } else {
      event_del(writeEvent_.get());
    }
  }
}

// The frames of one read are decoded first and then delivered, in arrival order unless the handler
// orders them (ChannelHandler::orderBatch: the worker's fair order between apps).
void Channel::readFrames() {
  evbuffer* in = input_.get();
  std::string error;
  batch_.clear();
  while (true) {
    DecodeStatus status = decodeFrame(in, limits_, batch_, error);
    if (status == DecodeStatus::kNeedMore) break;
    if (status == DecodeStatus::kError) {
      error = "protocol error: " + error;
      break;
    }
  }
  // Frames before a bad one are still delivered, as they would have been one by one.
  deliverBatch();
  batch_.clear();
  if (!error.empty()) fail(error);
}

capnp::ReaderOptions Channel::readerOptions() const {
  capnp::ReaderOptions options;
  options.traversalLimitInWords = limits_.traversalLimitWords;
  options.nestingLimit = limits_.nestingLimit;
  return options;
}

void Channel::deliverBatch() {
  order_.clear();
  if (batch_.frames() > 1 && handler_.ordersBatches()) {
    capnp::ReaderOptions options = readerOptions();
    readers_.clear();
    envelopes_.clear();
    KJ_IF_MAYBE (exception, kj::runCatchingExceptions([&]() {
                   for (size_t i = 0; i < batch_.frames(); ++i) {
                     envelopes_.push_back(
                         readers_.emplace_back(batch_.frame(i), options).getRoot<Envelope>());
                   }
                   handler_.orderBatch(envelopes_, order_);
                 })) {
      (void)exception;
      order_.clear();
    }
    envelopes_.clear();
    readers_.clear();
    if (!order_.empty() && order_.size() != batch_.frames()) order_.clear();
  }
  for (size_t i = 0; i < batch_.frames() && !closed_; ++i)
    deliver(batch_.frame(order_.empty() ? i : order_[i]));
}

void Channel::deliver(kj::ArrayPtr<const capnp::word> words) {
  std::string error;
  {
    // kj reports malformed messages by throwing; a bad message must close only this channel.
    KJ_IF_MAYBE (exception, kj::runCatchingExceptions([&]() {
                   capnp::FlatArrayMessageReader reader(words, readerOptions());
                   handler_.onMessage(reader.getRoot<Envelope>());
                 })) {
      error = "malformed message: " + std::string(exception->getDescription().cStr());
    }
  }
  if (!error.empty()) fail(error);
}

void Channel::fail(const std::string& reason) {
  if (closed_) return;
  close();
  handler_.onClosed(reason);
}

}  // namespace isolated::ipc
