// A stand-in worker for supervisor tests: speaks (or breaks) the IPC protocol on fd 3 in a
// chosen way, so the supervisor's handling of a hostile or corrupt worker can be tested.
// Usage: fake_worker MODE [ignored supervisor arguments...]
//   garbage-first       a frame header declaring 2^32 segments, before any Hello
//   hello-then-garbage  a valid Hello, then a frame whose pointers are garbage
//   hello-then-oversize a valid Hello, then a header declaring a 2 GiB frame
//   window-overrun      a valid Hello; answers the first request with a streamed Response and
//                       then 32 MiB of body at once, whatever credit it gets
//   serve               a valid Hello; then answers each Ping with a healthy Pong and exits 0
//                       on Shutdown (a well-behaved worker, for the pool's tests)
//   sick                as serve, but every Pong says the probe failed
//   pin-module PATH TEXT
//                       a valid Hello; answers a preloading LoadApp with AppLoaded saying it
//                       loaded the file PATH, whose text was TEXT (ipc/protocol.h rule 22)
#include <unistd.h>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <event2/buffer.h>

#include <cstring>
#include <string>

#include "common/event_handles.h"
#include "ipc/framing.h"
#include "ipc/messages.capnp.h"
#include "ipc/protocol.h"

namespace {

// pin-module's PATH and TEXT; empty path: AppLoaded names no module.
std::string pinPath;
std::string pinText;

void writeAll(const void* data, size_t size) {
  auto* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = write(3, p, size);
    if (n <= 0) _exit(3);
    p += n;
    size -= static_cast<size_t>(n);
  }
}

void send(capnp::MessageBuilder& message) {
  isolated::EvbufferPtr out(evbuffer_new());
  isolated::ipc::encodeFrame(message, out.get());
  size_t size = evbuffer_get_length(out.get());
  writeAll(evbuffer_pullup(out.get(), -1), size);
}

// Reads frames from the supervisor into `input` until `wanted` arrives; answers a preloading
// LoadApp on the way, as a worker does. Returns the id of the wanted RequestStart (0 for a
// LoadApp).
uint64_t await(evbuffer* input, isolated::ipc::Envelope::Which wanted) {
  isolated::ipc::FrameLimits limits;
  for (;;) {
    auto frame = isolated::ipc::decodeFrame(input, limits);
    if (frame.status == isolated::ipc::DecodeStatus::kError) _exit(4);
    if (frame.status == isolated::ipc::DecodeStatus::kFrame) {
      capnp::FlatArrayMessageReader reader(frame.words);
      auto envelope = reader.getRoot<isolated::ipc::Envelope>();
      if (envelope.isLoadApp() && envelope.getLoadApp().getPreload()) {
        capnp::MallocMessageBuilder message;
        auto loaded = message.initRoot<isolated::ipc::Envelope>().initAppLoaded();
        loaded.setApp(envelope.getLoadApp().getApp());
        if (!pinPath.empty()) {
          auto modules = loaded.initModules(1);
          modules[0].setPath(pinPath);
          modules[0].setText(pinText);
        }
        send(message);
      }
      if (envelope.which() != wanted) continue;
      return envelope.isRequestStart() ? envelope.getRequestStart().getId() : 0;
    }
    char buffer[4096];
    ssize_t n = read(3, buffer, sizeof buffer);
    if (n <= 0) _exit(0);
    evbuffer_add(input, buffer, static_cast<size_t>(n));
  }
}

void writeHello() {
  capnp::MallocMessageBuilder message;
  auto hello = message.initRoot<isolated::ipc::Envelope>().initHello();
  hello.setPid(static_cast<uint32_t>(getpid()));
  hello.setVersion("fake");
  hello.setProtocolVersion(isolated::ipc::kProtocolVersion);
  send(message);
}

// Hello, then the app the supervisor loads into every worker of a single-script server.
void sendHello(evbuffer* input) {
  writeHello();
  await(input, isolated::ipc::Envelope::LOAD_APP);
}

// A worker that says Hello and answers pings (probeOk as given) until Shutdown or EOF.
int serve(evbuffer* input, bool probeOk) {
  writeHello();
  for (;;) {
    isolated::ipc::FrameLimits limits;
    auto frame = isolated::ipc::decodeFrame(input, limits);
    if (frame.status == isolated::ipc::DecodeStatus::kError) return 4;
    if (frame.status == isolated::ipc::DecodeStatus::kFrame) {
      capnp::FlatArrayMessageReader reader(frame.words);
      auto envelope = reader.getRoot<isolated::ipc::Envelope>();
      if (envelope.isShutdown()) return 0;
      if (!envelope.isPing()) continue;
      capnp::MallocMessageBuilder message;
      auto pong = message.initRoot<isolated::ipc::Envelope>().initPong();
      pong.setSeq(envelope.getPing().getSeq());
      pong.setProbeOk(probeOk);
      pong.setHeapLimitBytes(64u << 20);
      send(message);
      continue;
    }
    char buffer[4096];
    ssize_t n = read(3, buffer, sizeof buffer);
    if (n <= 0) return 0;
    evbuffer_add(input, buffer, static_cast<size_t>(n));
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  isolated::EvbufferPtr input(evbuffer_new());
  if (mode == "garbage-first") {
    uint32_t header[2] = {0xFFFFFFFFu, 0};
    writeAll(header, sizeof header);
  } else if (mode == "hello-then-garbage") {
    sendHello(input.get());
    // One segment of 4 words, all 0xFF: a far pointer to a segment that does not exist.
    uint32_t header[2] = {0, 4};
    unsigned char words[32];
    memset(words, 0xFF, sizeof words);
    writeAll(header, sizeof header);
    writeAll(words, sizeof words);
  } else if (mode == "hello-then-oversize") {
    sendHello(input.get());
    uint32_t header[2] = {0, 1u << 28};
    writeAll(header, sizeof header);
  } else if (mode == "window-overrun") {
    sendHello(input.get());
    uint64_t id = await(input.get(), isolated::ipc::Envelope::REQUEST_START);
    capnp::MallocMessageBuilder start;
    auto response = start.initRoot<isolated::ipc::Envelope>().initResponse();
    response.setId(id);
    response.setStatus(200);
    response.setBodyFollows(true);
    send(start);
    // Far more than a client that does not read can take, so it runs past the credit window.
    std::string data(isolated::ipc::kBodyChunkBytes, 'x');
    for (int i = 0; i < 512; ++i) {
      capnp::MallocMessageBuilder message;
      auto chunk = message.initRoot<isolated::ipc::Envelope>().initBodyChunk();
      chunk.setId(id);
      chunk.setData(kj::arrayPtr(reinterpret_cast<const kj::byte*>(data.data()), data.size()));
      send(message);
    }
  } else if (mode == "serve" || mode == "sick") {
    return serve(input.get(), mode == "serve");
  } else if (mode == "pin-module" && argc > 3) {
    pinPath = argv[2];
    pinText = argv[3];
    sendHello(input.get());
  } else {
    return 2;
  }
  // Stay alive until the supervisor kills us or closes the channel.
  char byte;
  while (read(3, &byte, 1) > 0) {
  }
  return 0;
}
