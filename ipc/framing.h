// Cap'n Proto stream framing over libevent buffers: encoding appends a frame to an evbuffer,
// decoding removes one complete, bounded frame from it. See ipc/protocol.h for the rules.
#pragma once

#include <capnp/message.h>
#include <event2/buffer.h>
#include <kj/array.h>

#include <string>
#include <vector>

#include "ipc/protocol.h"

namespace isolated::ipc {

// Appends `message` to `out` in stream framing.
void encodeFrame(capnp::MessageBuilder& message, evbuffer* out);

enum class DecodeStatus { kNeedMore, kFrame, kError };

struct DecodeResult {
  DecodeStatus status = DecodeStatus::kNeedMore;
  // With kFrame: the frame, word-aligned, ready for capnp::FlatArrayMessageReader.
  kj::Array<capnp::word> words;
  // With kError: why the bytes are not an acceptable frame.
  std::string error;
};

// Removes the first complete frame from `in`. Leaves `in` untouched when the frame is incomplete
// and valid so far. On kError the buffer's contents are unspecified; the channel must be closed.
DecodeResult decodeFrame(evbuffer* in, const FrameLimits& limits);

// Word-aligned storage for the frames of one read, kept from read to read so that decoding the
// usual batch allocates nothing (a heap array per frame cost two of the supervisor's eight
// allocations per request). Invariant: frame(i) stays valid until the next append() or clear(),
// since growing moves the storage.
class FrameArena {
 public:
  // Room for a frame of `words` words at the end, to be filled at once; the arena grows by
  // doubling.
  capnp::word* append(size_t words);
  size_t frames() const { return frames_.size(); }
  kj::ArrayPtr<const capnp::word> frame(size_t index) const {
    return kj::arrayPtr(storage_.begin() + frames_[index].offset, frames_[index].words);
  }
  // Forgets the frames; storage grown past kKeepBytes by a large batch is given back.
  void clear();

  static constexpr size_t kKeepBytes = 256u << 10;

 private:
  struct Span {
    size_t offset;
    size_t words;
  };
  kj::Array<capnp::word> storage_;
  size_t used_ = 0;
  std::vector<Span> frames_;
};

// decodeFrame into `arena`: the frame is its last, and `in` loses it. `error` is set with kError.
DecodeStatus decodeFrame(evbuffer* in, const FrameLimits& limits, FrameArena& arena,
                         std::string& error);

}  // namespace isolated::ipc
