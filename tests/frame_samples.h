// Sample frames and buffers for the IPC tests (framing_test.cc, channel_test.cc): a
// RequestStart with every field set and its check, Ping frames, and raw frame headers.
#pragma once

#include <capnp/message.h>
#include <event2/buffer.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/event_handles.h"
#include "ipc/framing.h"
#include "ipc/messages.capnp.h"

namespace isolated::ipc::test {

inline EvbufferPtr newBuffer() {
  EvbufferPtr buffer(evbuffer_new());
  if (!buffer) throw std::runtime_error("evbuffer_new failed");
  return buffer;
}

inline std::vector<uint8_t> drain(evbuffer* buffer) {
  std::vector<uint8_t> bytes(evbuffer_get_length(buffer));
  evbuffer_remove(buffer, bytes.data(), bytes.size());
  return bytes;
}

inline void fillRequestStart(capnp::MessageBuilder& builder, uint64_t id, const std::string& body) {
  auto request = builder.initRoot<Envelope>().initRequestStart();
  request.setId(id);
  request.setApp(7);
  request.setMethod("POST");
  request.setUrl("http://localhost/path?q=1");
  auto headers = request.initHeaders(2);
  headers[0].setName("content-type");
  headers[0].setValue("text/plain");
  headers[1].setName("x-trace");
  headers[1].setValue("abc");
  request.setClientAddress("127.0.0.1:5555");
  request.setBody(capnp::Data::Reader(reinterpret_cast<const kj::byte*>(body.data()), body.size()));
}

inline void expectRequestStart(Envelope::Reader envelope, uint64_t id, const std::string& body) {
  ASSERT_EQ(envelope.which(), Envelope::REQUEST_START);
  auto request = envelope.getRequestStart();
  EXPECT_EQ(request.getId(), id);
  EXPECT_EQ(request.getApp(), 7u);
  EXPECT_EQ(std::string(request.getMethod().cStr()), "POST");
  EXPECT_EQ(std::string(request.getUrl().cStr()), "http://localhost/path?q=1");
  auto headers = request.getHeaders();
  ASSERT_EQ(headers.size(), 2u);
  EXPECT_EQ(std::string(headers[0].getName().cStr()), "content-type");
  EXPECT_EQ(std::string(headers[0].getValue().cStr()), "text/plain");
  EXPECT_EQ(std::string(headers[1].getName().cStr()), "x-trace");
  EXPECT_EQ(std::string(headers[1].getValue().cStr()), "abc");
  EXPECT_EQ(std::string(request.getClientAddress().cStr()), "127.0.0.1:5555");
  auto data = request.getBody();
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(data.begin()), data.size()), body);
}

inline std::vector<uint8_t> encodePing(uint64_t seq) {
  capnp::MallocMessageBuilder builder;
  builder.initRoot<Envelope>().initPing().setSeq(seq);
  auto buffer = newBuffer();
  encodeFrame(builder, buffer.get());
  return drain(buffer.get());
}

// A frame header for one segment of `words` words.
inline std::vector<uint8_t> singleSegmentHeader(uint32_t words) {
  uint32_t header[2] = {0, words};
  std::vector<uint8_t> bytes(sizeof header);
  memcpy(bytes.data(), header, sizeof header);
  return bytes;
}

// Pings 0..count-1 as valid frames, then a header claiming a segment far over every limit.
inline std::vector<uint8_t> pingsThenBadHeader(uint64_t count) {
  std::vector<uint8_t> bytes;
  for (uint64_t i = 0; i < count; ++i) {
    auto frame = encodePing(i);
    bytes.insert(bytes.end(), frame.begin(), frame.end());
  }
  auto bad = singleSegmentHeader(0x7FFFFFFFu);
  bytes.insert(bytes.end(), bad.begin(), bad.end());
  return bytes;
}

}  // namespace isolated::ipc::test
