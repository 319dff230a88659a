// Fuzz target: the IPC channel reading a peer's bytes, the way the supervisor reads a worker's
// (FUZZ_FROM_WORKER) or a worker reads the supervisor's: the bytes arrive on a real socketpair,
// a real ipc::Channel frames and decodes them with the production limits, and the handler
// reads every field of every message (through Cap'n Proto's reflection), which is where a
// malformed message throws. Nothing may crash; a bad frame only closes the channel.
//
// The walk is bounded (kVisitBudget values per message): within the production traversal
// limit a list of empty structs can claim 16 million elements in a small frame, and visiting
// each of them, which no real handler needs, only makes the fuzzer slow (docs/fuzzing.md).
#include <sys/socket.h>
#include <unistd.h>

#include <capnp/dynamic.h>
#include <capnp/serialize.h>

#include "common/event_handles.h"
#include "common/unique_fd.h"
#include "fuzz/fuzz_target.h"
#include "ipc/channel.h"

namespace {

using isolated::ipc::Envelope;

// The messages each side legitimately receives; the others are still read in full (a hostile
// peer sends anything), but counted apart so that the fuzzer's coverage tells them apart.
bool expected(Envelope::Which which) {
#ifdef FUZZ_FROM_WORKER
  switch (which) {
    case Envelope::HELLO:
    case Envelope::LOAD_ERROR:
    case Envelope::RESPONSE:
    case Envelope::PONG:
    case Envelope::LOG:
    case Envelope::FETCH_START:
    case Envelope::FETCH_BODY:
    case Envelope::FETCH_CREDIT:
    case Envelope::FETCH_ABORT:
    case Envelope::BODY_CHUNK:
    case Envelope::BODY_CREDIT:
    case Envelope::FETCH_UPLOAD:
    case Envelope::APP_LOADED:
    case Envelope::APP_EVICTED:
    case Envelope::BINDING_CALL:
      return true;
    default:
      return false;
  }
#else
  switch (which) {
    case Envelope::CONFIGURE:
    case Envelope::REQUEST_START:
    case Envelope::REQUEST_CANCEL:
    case Envelope::PING:
    case Envelope::SHUTDOWN:
    case Envelope::SCHEDULED:
    case Envelope::FETCH_HEAD:
    case Envelope::FETCH_BODY:
    case Envelope::FETCH_FAILED:
    case Envelope::BODY_CHUNK:
    case Envelope::BODY_CREDIT:
    case Envelope::FETCH_UPLOAD_CREDIT:
    case Envelope::LOAD_APP:
    case Envelope::UNLOAD_APP:
    case Envelope::FORGET_APP:
    case Envelope::EVICT_IDLE:
    case Envelope::BINDING_RESULT:
      return true;
    default:
      return false;
  }
#endif
}

// Above what any handler reads of a message it accepts: the longest list a handler walks is a
// response's headers, refused past 1,024 entries (3 values each) before any is read. A larger
// budget only re-reads the same few structs of a hostile 16-million-element list.
constexpr size_t kVisitBudget = 8192;

// Reads `value` and everything under it, up to `budget` values.
void visit(const capnp::DynamicValue::Reader& value, size_t& budget, size_t& bytes) {
  if (budget == 0) return;
  --budget;
  switch (value.getType()) {
    case capnp::DynamicValue::TEXT:
      bytes += value.as<capnp::Text>().size();
      break;
    case capnp::DynamicValue::DATA:
      bytes += value.as<capnp::Data>().size();
      break;
    case capnp::DynamicValue::LIST:
      for (auto element : value.as<capnp::DynamicList>()) {
        if (budget == 0) break;
        visit(element, budget, bytes);
      }
      break;
    case capnp::DynamicValue::STRUCT: {
      auto structure = value.as<capnp::DynamicStruct>();
      for (auto field : structure.getSchema().getFields()) {
        if (structure.has(field)) visit(structure.get(field), budget, bytes);
      }
      break;
    }
    case capnp::DynamicValue::ENUM:
      bytes += value.as<capnp::DynamicEnum>().getRaw();
      break;
    default:
      break;  // numbers, bools, void: read by get() already
  }
}

class Reader : public isolated::ipc::ChannelHandler {
 public:
  void onMessage(Envelope::Reader message) override {
    if (expected(message.which())) ++expected_;
    size_t budget = kVisitBudget;
    visit(capnp::DynamicStruct::Reader(message), budget, bytes_);
  }
  void onClosed(const std::string&) override { closed = true; }
  bool closed = false;

 private:
  size_t expected_ = 0;
  size_t bytes_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) != 0) return 0;
  isolated::UniqueFd peer(fds[1]);
  // One event base for the whole run (libFuzzer calls this millions of times): creating one per
  // input was most of the target's time. Each input's channel leaves it empty when destroyed.
  static const isolated::EventBasePtr base = isolated::makeEventBase(0);
  Reader reader;
  isolated::ipc::Channel channel(base.get(), isolated::UniqueFd(fds[0]),
                                 isolated::ipc::FrameLimits{}, reader);
  // Inputs are small (libFuzzer's -max_len): one write fits the socket buffer; the peer then
  // closes, as a dying worker would.
  size_t written = 0;
  while (written < size) {
    ssize_t n = write(peer.get(), data + written, size - written);
    if (n <= 0) break;
    written += static_cast<size_t>(n);
  }
  peer.reset();
  for (int turns = 0; turns < 64 && !reader.closed; ++turns) {
    if (event_base_loop(base.get(), EVLOOP_ONCE | EVLOOP_NONBLOCK) < 0) break;
  }
  return 0;
}
