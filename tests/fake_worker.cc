// A stand-in worker for supervisor tests: speaks (or breaks) the IPC protocol on fd 3 in a
// chosen way, so the supervisor's handling of a hostile or corrupt worker can be tested.
// Usage: fake_worker MODE [ignored supervisor arguments...]
//   garbage-first       a frame header declaring 2^32 segments, before any Hello
//   hello-then-garbage  a valid Hello, then a frame whose pointers are garbage
//   hello-then-oversize a valid Hello, then a header declaring a 2 GiB frame
#include <unistd.h>

#include <capnp/message.h>
#include <event2/buffer.h>

#include <cstring>
#include <string>

#include "common/event_handles.h"
#include "ipc/framing.h"
#include "ipc/messages.capnp.h"

namespace {

void writeAll(const void* data, size_t size) {
  auto* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = write(3, p, size);
    if (n <= 0) _exit(3);
    p += n;
    size -= static_cast<size_t>(n);
  }
}

void sendHello() {
  capnp::MallocMessageBuilder message;
  auto hello = message.initRoot<isolated::ipc::Envelope>().initHello();
  hello.setPid(static_cast<uint32_t>(getpid()));
  hello.setVersion("fake");
  isolated::EvbufferPtr out(evbuffer_new());
  isolated::ipc::encodeFrame(message, out.get());
  size_t size = evbuffer_get_length(out.get());
  writeAll(evbuffer_pullup(out.get(), -1), size);
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "garbage-first") {
    uint32_t header[2] = {0xFFFFFFFFu, 0};
    writeAll(header, sizeof header);
  } else if (mode == "hello-then-garbage") {
    sendHello();
    // One segment of 4 words, all 0xFF: a far pointer to a segment that does not exist.
    uint32_t header[2] = {0, 4};
    unsigned char words[32];
    memset(words, 0xFF, sizeof words);
    writeAll(header, sizeof header);
    writeAll(words, sizeof words);
  } else if (mode == "hello-then-oversize") {
    sendHello();
    uint32_t header[2] = {0, 1u << 28};
    writeAll(header, sizeof header);
  } else {
    return 2;
  }
  // Stay alive until the supervisor kills us or closes the channel.
  char byte;
  while (read(3, &byte, 1) > 0) {
  }
  return 0;
}
