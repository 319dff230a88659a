// Fuzz target: the control protocol as the supervisor reads it. A real ControlServer on a
// private Unix socket receives the input over a real connection (line splitting, the 64 KiB
// line limit, JSON parsing, request checks, reply encoding), and the real command table behind
// it (ControlCommands, DeployCommands, AppLifecycle over an AppRegistry of two apps) turns each
// request into an operator action. Only the server under them is a stand-in: its actions
// answer as a serving server would, and a deploy's version waits for a worker that never comes.
// Nothing may crash, and each connection is served to its end. Apps a deploy added are
// undeployed after each input, so a long run does not grow.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fcntl.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "common/event_handles.h"
#include "common/logger.h"
#include "common/unique_fd.h"
#include "event/dispatcher.h"
#include "fuzz/fuzz_target.h"
#include "supervisor/apps/app_lifecycle.h"
#include "supervisor/apps/deploy_commands.h"
#include "supervisor/control_commands.h"
#include "supervisor/control_server.h"
#include "tests/lifecycle_surroundings.h"

namespace {

using namespace isolated::supervisor;

// The server behind the commands: serving, two workers, nothing to recycle.
class StandInServer : public OperatorActions, public InertLifecycleHost {
 public:
  // OperatorActions
  ServerStatus snapshot() const override {
    ServerStatus status;
    status.state = "serving";
    status.workers = 2;
    return status;
  }
  std::string metricsText() override { return "isolated_up 1\n"; }
  bool beginReload(std::string* why) override {
    if (why != nullptr) *why = "a reload is already running";
    return false;
  }
  size_t activeWorkers() const override { return 2; }
  bool recycleWorker(uint32_t id, const std::string&) override { return id == 1; }
  std::optional<std::string> pause() override { return std::nullopt; }
  std::optional<std::string> resume() override { return std::nullopt; }
  bool serving() const override { return true; }
  void scale(uint32_t) override {}
  std::optional<std::string> triggerScheduled(const std::string&,
                                              const std::string& cron) override {
    auto parsed = isolated::CronSchedule::parse(cron);
    if (auto* error = std::get_if<std::string>(&parsed)) return *error;
    return std::nullopt;
  }
};

isolated::AppConfig appNamed(const std::string& name, const std::string& route) {
  isolated::AppConfig app;
  app.name = name;
  app.scriptPath = "/dev/null";
  app.routes = {route};
  app.crons = {"*/5 * * * *"};
  return app;
}

// One server for the whole run: libFuzzer calls the target millions of times.
struct Fixture : LifecycleSurroundings {
  Fixture() : LifecycleSurroundings(devNull()) {
    char pattern[] = "/tmp/isolated-fuzz-ctl-XXXXXX";
    if (mkdtemp(pattern) == nullptr) std::abort();
    dir = pattern;
    path = dir + "/ctl.sock";
    config.apps = {appNamed("shop", "shop.example/*"), appNamed("blog", "blog.example/*")};
    config.configPath = dir + "/isolated.toml";  // never written: --save is refused
    for (const auto& app : config.apps)
      apps.add(app).routed = true;
    if (apps.rebuildRoutes()) std::abort();
    lifecycle =
        std::make_unique<AppLifecycle>(base.get(), config, logger, apps, cron, server, nullptr);
    deploys = std::make_unique<DeployCommands>(config, logger, apps, *lifecycle);
    commands = std::make_unique<ControlCommands>(config, server, apps, *lifecycle, *deploys);
    control = std::make_unique<ControlServer>(base.get(), path, *commands, logger);
  }
  ~Fixture() {
    control.reset();
    ::unlink(path.c_str());
    ::rmdir(dir.c_str());
  }
  static int devNull() { return ::open("/dev/null", O_WRONLY | O_CLOEXEC); }

  // Back to the two apps the run began with.
  void forgetDeploys() {
    std::vector<std::string> added;
    for (const auto& [name, app] : apps.apps()) {
      if (name != "shop" && name != "blog" && !app->removed) added.push_back(name);
    }
    for (const auto& name : added)
      lifecycle->undeploy(name);
    for (const char* name : {"shop", "blog"}) {
      if (App* app = apps.find(name); app != nullptr && app->candidate) lifecycle->undeploy(name);
    }
    for (const auto& app : config.apps) {
      if (apps.find(app.name) == nullptr) apps.add(app).routed = true;
    }
    (void)apps.rebuildRoutes();
    apps.collect();
  }

  StandInServer server;
  std::string dir;
  std::string path;
  std::unique_ptr<AppLifecycle> lifecycle;
  std::unique_ptr<DeployCommands> deploys;
  std::unique_ptr<ControlCommands> commands;
  std::unique_ptr<ControlServer> control;
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
  fixture.forgetDeploys();
  return 0;
}
