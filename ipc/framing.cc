// Stream framing: header validation happens before the body is awaited, so a peer cannot make
// the receiver buffer more than FrameLimits::maxMessageBytes.
#include "ipc/framing.h"

#include <capnp/serialize.h>

#include <algorithm>
#include <cstring>
#include <iterator>

namespace isolated::ipc {

void encodeFrame(capnp::MessageBuilder& message, evbuffer* out) {
  auto segments = message.getSegmentsForOutput();
  // Header: u32 count-1, u32 size per segment, padded to a whole word.
  // On the stack for the usual few segments (every message sent pays this), else on the heap.
  size_t headerWords = (segments.size() + 2) / 2;
  uint32_t small[16];
  kj::Array<uint32_t> large;
  uint32_t* header = small;
  if (headerWords * 2 > std::size(small)) {
    large = kj::heapArray<uint32_t>(headerWords * 2);
    header = large.begin();
  }
  memset(header, 0, headerWords * 2 * sizeof(uint32_t));
  header[0] = static_cast<uint32_t>(segments.size() - 1);
  for (size_t i = 0; i < segments.size(); ++i) {
    header[i + 1] = static_cast<uint32_t>(segments[i].size());
  }
  evbuffer_add(out, header, headerWords * 2 * sizeof(uint32_t));
  for (auto segment : segments) {
    evbuffer_add(out, segment.begin(), segment.size() * sizeof(capnp::word));
  }
}

namespace {

// The size in bytes of the first frame in `in`, header included, once all of it has arrived
// (kFrame); kNeedMore while it is incomplete and valid so far; kError with `error` when its header
// breaks `limits`.
DecodeStatus frameBytes(evbuffer* in, const FrameLimits& limits, size_t& totalBytes,
                        std::string& error) {
  size_t available = evbuffer_get_length(in);
  if (available < 4) return DecodeStatus::kNeedMore;

  uint32_t countMinusOne = 0;
  evbuffer_copyout(in, &countMinusOne, 4);
  uint64_t segmentCount = uint64_t{countMinusOne} + 1;
  if (segmentCount > limits.maxSegments) {
    error = "frame declares " + std::to_string(segmentCount) + " segments, limit " +
            std::to_string(limits.maxSegments);
    return DecodeStatus::kError;
  }
  size_t headerBytes = ((segmentCount + 2) / 2) * 8;
  if (available < headerBytes) return DecodeStatus::kNeedMore;

  uint32_t sizes[1 + 64 + 1];
  static_assert(sizeof(sizes) / sizeof(sizes[0]) >= 66);
  if (limits.maxSegments > 64) {
    error = "maxSegments above 64 is not supported";
    return DecodeStatus::kError;
  }
  evbuffer_copyout(in, sizes, headerBytes);
  uint64_t bodyWords = 0;
  for (uint64_t i = 0; i < segmentCount; ++i)
    bodyWords += sizes[i + 1];
  uint64_t total = headerBytes + bodyWords * 8;
  if (total > limits.maxMessageBytes) {
    error = "frame of " + std::to_string(total) + " bytes exceeds the limit of " +
            std::to_string(limits.maxMessageBytes);
    return DecodeStatus::kError;
  }
  if (available < total) return DecodeStatus::kNeedMore;
  totalBytes = static_cast<size_t>(total);
  return DecodeStatus::kFrame;
}

}  // namespace

DecodeResult decodeFrame(evbuffer* in, const FrameLimits& limits) {
  DecodeResult result;
  size_t totalBytes = 0;
  result.status = frameBytes(in, limits, totalBytes, result.error);
  if (result.status != DecodeStatus::kFrame) return result;
  // Copy into word-aligned storage: evbuffer memory has no alignment guarantee, and Cap'n Proto
  // reads words in place.
  result.words = kj::heapArray<capnp::word>(totalBytes / 8);
  evbuffer_remove(in, result.words.begin(), totalBytes);
  return result;
}

capnp::word* FrameArena::append(size_t words) {
  if (used_ + words > storage_.size()) {
    auto grown = kj::heapArray<capnp::word>(std::max(used_ + words, storage_.size() * 2));
    if (used_ > 0) std::memcpy(grown.begin(), storage_.begin(), used_ * sizeof(capnp::word));
    storage_ = kj::mv(grown);
  }
  frames_.push_back({used_, words});
  used_ += words;
  return storage_.begin() + frames_.back().offset;
}

void FrameArena::clear() {
  frames_.clear();
  used_ = 0;
  if (storage_.size() * sizeof(capnp::word) > kKeepBytes) storage_ = nullptr;
}

DecodeStatus decodeFrame(evbuffer* in, const FrameLimits& limits, FrameArena& arena,
                         std::string& error) {
  size_t totalBytes = 0;
  DecodeStatus status = frameBytes(in, limits, totalBytes, error);
  if (status == DecodeStatus::kFrame) evbuffer_remove(in, arena.append(totalBytes / 8), totalBytes);
  return status;
}

}  // namespace isolated::ipc
