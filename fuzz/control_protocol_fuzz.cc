// Fuzz target: the control protocol as the supervisor reads it. A real ControlServer on a
// private Unix socket receives the input over a real connection (line splitting, the 64 KiB
// line limit, JSON parsing, request checks, reply encoding); the handler behind it stands in
// for the supervisor's command table and echoes what it was given, so that reply encoding sees
// whatever the parser accepted. Nothing may crash, and each connection is served to its end.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fcntl.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "common/event_handles.h"
#include "common/logger.h"
#include "common/unique_fd.h"
#include "fuzz/fuzz_target.h"
#include "supervisor/control_server.h"

namespace {

class EchoHandler : public isolated::supervisor::ControlHandler {
 public:
  std::optional<nlohmann::json> handleControl(
      const nlohmann::json& request, const isolated::supervisor::ControlResponder&) override {
    return nlohmann::json{{"ok", true}, {"cmd", request["cmd"]}, {"request", request}};
  }
};

// One server for the whole run: libFuzzer calls the target millions of times.
struct Fixture {
  Fixture() : logger(isolated::LogLevel::kError, isolated::LogFormat::kText, devNull()) {
    char pattern[] = "/tmp/isolated-fuzz-ctl-XXXXXX";
    if (mkdtemp(pattern) == nullptr) std::abort();
    dir = pattern;
    path = dir + "/ctl.sock";
    base = isolated::makeEventBase(0);
    server =
        std::make_unique<isolated::supervisor::ControlServer>(base.get(), path, handler, logger);
  }
  ~Fixture() {
    server.reset();
    ::unlink(path.c_str());
    ::rmdir(dir.c_str());
  }
  static int devNull() { return ::open("/dev/null", O_WRONLY | O_CLOEXEC); }

  isolated::Logger logger;
  EchoHandler handler;
  std::string dir;
  std::string path;
  isolated::EventBasePtr base;
  std::unique_ptr<isolated::supervisor::ControlServer> server;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture fixture;
  isolated::UniqueFd client(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  fixture.path.copy(address.sun_path, sizeof address.sun_path - 1);
  if (::connect(client.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    std::abort();  // the server is ours and listening
  }
  std::string input(reinterpret_cast<const char*>(data), size);
  if (input.empty() || input.back() != '\n') input += '\n';
  // Small inputs fit the socket buffer; a larger one is cut, which is just another input.
  (void)::send(client.get(), input.data(), input.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  ::shutdown(client.get(), SHUT_WR);
  // Serve until the server has closed its end (it does on our EOF, after replying).
  char buf[65536];
  for (int turns = 0; turns < 256; ++turns) {
    event_base_loop(fixture.base.get(), EVLOOP_ONCE | EVLOOP_NONBLOCK);
    ssize_t n = ::recv(client.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) break;
  }
  return 0;
}
