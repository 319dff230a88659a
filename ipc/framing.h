// Cap'n Proto stream framing over libevent buffers: encoding appends a frame to an evbuffer,
// decoding removes one complete, bounded frame from it. See ipc/protocol.h for the rules.
#pragma once

#include <capnp/message.h>
#include <event2/buffer.h>
#include <kj/array.h>

#include <string>

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

}  // namespace isolated::ipc
