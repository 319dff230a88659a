// Stream framing: header validation happens before the body is awaited, so a peer cannot make
// the receiver buffer more than FrameLimits::maxMessageBytes.
#include "ipc/framing.h"

#include <capnp/serialize.h>

#include <cstring>

namespace isolated::ipc {

void encodeFrame(capnp::MessageBuilder& message, evbuffer* out) {
  auto segments = message.getSegmentsForOutput();
  // Header: u32 count-1, u32 size per segment, padded to a whole word.
  size_t headerWords = (segments.size() + 2) / 2;
  kj::Array<uint32_t> header = kj::heapArray<uint32_t>(headerWords * 2);
  memset(header.begin(), 0, header.size() * sizeof(uint32_t));
  header[0] = static_cast<uint32_t>(segments.size() - 1);
  for (size_t i = 0; i < segments.size(); ++i) {
    header[i + 1] = static_cast<uint32_t>(segments[i].size());
  }
  evbuffer_add(out, header.begin(), header.size() * sizeof(uint32_t));
  for (auto segment : segments) {
    evbuffer_add(out, segment.begin(), segment.size() * sizeof(capnp::word));
  }
}

DecodeResult decodeFrame(evbuffer* in, const FrameLimits& limits) {
  DecodeResult result;
  size_t available = evbuffer_get_length(in);
  if (available < 4) return result;

  uint32_t countMinusOne = 0;
  evbuffer_copyout(in, &countMinusOne, 4);
  uint64_t segmentCount = uint64_t{countMinusOne} + 1;
  if (segmentCount > limits.maxSegments) {
    result.status = DecodeStatus::kError;
    result.error = "frame declares " + std::to_string(segmentCount) + " segments, limit " +
                   std::to_string(limits.maxSegments);
    return result;
  }
  size_t headerBytes = ((segmentCount + 2) / 2) * 8;
  if (available < headerBytes) return result;

  uint32_t sizes[1 + 64 + 1];
  static_assert(sizeof(sizes) / sizeof(sizes[0]) >= 66);
  if (limits.maxSegments > 64) {
    result.status = DecodeStatus::kError;
    result.error = "maxSegments above 64 is not supported";
    return result;
  }
  evbuffer_copyout(in, sizes, headerBytes);
  uint64_t bodyWords = 0;
  for (uint64_t i = 0; i < segmentCount; ++i)
    bodyWords += sizes[i + 1];
  uint64_t totalBytes = headerBytes + bodyWords * 8;
  if (totalBytes > limits.maxMessageBytes) {
    result.status = DecodeStatus::kError;
    result.error = "frame of " + std::to_string(totalBytes) + " bytes exceeds the limit of " +
                   std::to_string(limits.maxMessageBytes);
    return result;
  }
  if (available < totalBytes) return result;

  // Copy into word-aligned storage: evbuffer memory has no alignment guarantee, and Cap'n Proto
  // reads words in place.
  result.words = kj::heapArray<capnp::word>(totalBytes / 8);
  evbuffer_remove(in, result.words.begin(), totalBytes);
  result.status = DecodeStatus::kFrame;
  return result;
}

}  // namespace isolated::ipc
