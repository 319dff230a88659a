// Control socket: listener set-up, line framing, JSON parsing and replies.
#include "supervisor/control_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <vector>

#include "common/syscall.h"
#include "common/unique_fd.h"

namespace isolated::supervisor {

namespace {

sockaddr_un unixAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    throw std::runtime_error("control socket path too long: " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

// Whether some process accepts connections on `path`.
bool socketIsLive(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr = unixAddress(path);
  return trySyscall([&] {
           return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
         }) == 0;
}

}  // namespace

ControlServer::ControlServer(event_base* base, std::string path, ControlHandler& handler,
                             Logger& logger)
    : loop_(base),
      path_(std::move(path)),
      handler_(handler),
      logger_(logger),
      sweep_(loop_, [this] { sweepSilent(); }) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(path_).parent_path();
  std::error_code ec;
  if (!dir.empty() && !fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec) throw std::runtime_error("cannot create " + dir.string() + ": " + ec.message());
    ::chmod(dir.c_str(), 0700);
  }
  // Whoever controls the directory could swap the socket: it must belong to us (or root) and
  // be writable by no one else, unless it is sticky like /tmp, where others cannot replace a
  // file they do not own.
  struct stat dirStat {};
  std::string dirPath = dir.empty() ? "." : dir.string();
  if (::stat(dirPath.c_str(), &dirStat) != 0) {
    throw std::runtime_error("cannot use control socket directory " + dirPath + ": " +
                             errnoText(errno));
  }
  bool ownerOk = dirStat.st_uid == ::geteuid() || dirStat.st_uid == 0;
  bool writableByOthers = (dirStat.st_mode & 0022) != 0 && (dirStat.st_mode & S_ISVTX) == 0;
  if (!ownerOk || writableByOthers) {
    throw std::runtime_error("control socket directory " + dirPath +
                             " must belong to this user or root and not be writable by others");
  }
  if (fs::exists(fs::symlink_status(path_, ec))) {
    if (socketIsLive(path_)) {
      throw std::runtime_error("control socket " + path_ +
                               " is in use by another process (another isolated serve?)");
    }
    ::unlink(path_.c_str());
  }

  UniqueFd fd(static_cast<int>(checkedSyscall("socket", "control socket", [] {
    return ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  })));
  sockaddr_un addr = unixAddress(path_);
  // The socket file is created by bind with the umask applied: make it 0600 from the start so
  // that there is no moment when others could connect.
  mode_t old = ::umask(0177);
  long bound =
      trySyscall([&] { return ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr); });
  ::umask(old);
  if (bound < 0) {
    throw std::runtime_error("cannot create control socket " + path_ + ": " +
                             errnoText(static_cast<int>(-bound)));
  }
  checkedSyscall("listen", path_, [&] { return ::listen(fd.get(), 16); });
  // Close-on-exec for the listener and every accepted connection: workers are exec'd from this
  // process and must not inherit operator connections.
  listener_.reset(evconnlistener_new(base, &ControlServer::onAccept, this,
                                     LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1,
                                     fd.release()));
  if (!listener_) throw std::runtime_error("cannot listen on control socket " + path_);
  // The first-line deadlines are checked twice a second: a silent connection lasts at most
  // kSilentTimeout + 0.5 s.
  sweep_.start(500);
}

ControlServer::~ControlServer() {
  sweep_.stop();
  connections_.clear();
  listener_.reset();
  ::unlink(path_.c_str());
}

void ControlServer::onAccept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* self) {
  auto* server = static_cast<ControlServer*>(self);
  if (server->connections_.size() >= kMaxConnections && !server->evictOldestSilent()) {
    ::close(fd);
    return;
  }
  evutil_make_socket_nonblocking(fd);
  auto connection = std::make_unique<Connection>();
  connection->server = server;
  connection->id = server->nextConnectionId_++;
  connection->acceptedAt = Clock::now();
  connection->bev.reset(bufferevent_socket_new(evconnlistener_get_base(server->listener_.get()), fd,
                                               BEV_OPT_CLOSE_ON_FREE));
  if (!connection->bev) {
    ::close(fd);
    return;
  }
  bufferevent_setcb(connection->bev.get(), &ControlServer::onRead, &ControlServer::onWrite,
                    &ControlServer::onEvent, connection.get());
  timeval idle{kIdleTimeoutSec, 0};
  bufferevent_set_timeouts(connection->bev.get(), &idle, &idle);
  bufferevent_enable(connection->bev.get(), EV_READ | EV_WRITE);
  server->connections_.emplace(connection->id, std::move(connection));
}

void ControlServer::onRead(bufferevent* bev, void* arg) {
  auto* connection = static_cast<Connection*>(arg);
  ControlServer* server = connection->server;
  evbuffer* in = bufferevent_get_input(bev);
  while (!connection->closing) {
    size_t length = 0;
    char* line = evbuffer_readln(in, &length, EVBUFFER_EOL_LF);
    if (line == nullptr) break;
    std::string text(line, length);
    free(line);
    if (length > kMaxLineBytes) {
      server->reply(*connection, {{"ok", false}, {"error", "request line exceeds 64 KiB"}});
      connection->closing = true;
      break;
    }
    server->handleLine(*connection, text);
  }
  if (!connection->closing && evbuffer_get_length(in) > kMaxLineBytes) {
    server->reply(*connection, {{"ok", false}, {"error", "request line exceeds 64 KiB"}});
    connection->closing = true;
  }
  if (connection->closing) {
    bufferevent_disable(bev, EV_READ);
    // Close once the error reply is written.
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) server->close(*connection);
  }
}

void ControlServer::onWrite(bufferevent* bev, void* arg) {
  auto* connection = static_cast<Connection*>(arg);
  if (connection->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
    connection->server->close(*connection);
  }
}

void ControlServer::onEvent(bufferevent*, short, void* arg) {
  // EOF, error or idle timeout: the connection is done.
  auto* connection = static_cast<Connection*>(arg);
  connection->server->close(*connection);
}

void ControlServer::handleLine(Connection& connection, const std::string& line) {
  if (line.find_first_not_of(" \t\r") == std::string::npos) return;  // blank lines are ignored
  connection.spoke = true;
  nlohmann::json request = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (request.is_discarded()) {
    return reply(connection, {{"ok", false}, {"error", "malformed JSON"}});
  }
  if (!request.is_object()) {
    return reply(connection, {{"ok", false}, {"error", "a request must be a JSON object"}});
  }
  if (!request.contains("cmd") || !request["cmd"].is_string()) {
    return reply(connection, {{"ok", false}, {"error", "missing \"cmd\" string"}});
  }
  std::weak_ptr<ControlServer*> server = self_;
  uint64_t id = connection.id;
  ControlResponder respond = [server, id](const nlohmann::json& message) {
    auto alive = server.lock();
    if (!alive) return;
    auto it = (*alive)->connections_.find(id);
    if (it != (*alive)->connections_.end()) (*alive)->reply(*it->second, message);
  };
  if (auto answer = handler_.handleControl(request, respond)) reply(connection, *answer);
}

void ControlServer::reply(Connection& connection, const nlohmann::json& message) {
  // Invalid UTF-8 in a status string (a script name, say) is replaced, never thrown.
  std::string text = message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text += '\n';
  evbuffer_add(bufferevent_get_output(connection.bev.get()), text.data(), text.size());
}

void ControlServer::sweepSilent() {
  auto now = Clock::now();
  std::vector<uint64_t> expired;
  for (const auto& [id, connection] : connections_) {
    if (connection->spoke || connection->closing) continue;
    auto age = now - connection->acceptedAt;
    bool sentNothing = evbuffer_get_length(bufferevent_get_input(connection->bev.get())) == 0;
    if ((sentNothing && age >= kSilentTimeout) || age >= kFirstLineTimeout) expired.push_back(id);
  }
  for (uint64_t id : expired) {
    logger_.debug("control connection closed: no request in time", {{"connection", id}});
    connections_.erase(id);
  }
}

bool ControlServer::evictOldestSilent() {
  Connection* oldest = nullptr;
  for (const auto& [id, connection] : connections_) {
    if (connection->spoke) continue;
    if (oldest == nullptr || id < oldest->id) oldest = connection.get();
  }
  if (oldest == nullptr) return false;
  logger_.debug("control connection evicted: every slot taken, this one never sent a request",
                {{"connection", oldest->id}});
  connections_.erase(oldest->id);
  return true;
}

void ControlServer::close(Connection& connection) {
  // Freeing the bufferevent from inside its own callback is safe: libevent defers it.
  connections_.erase(connection.id);
}

}  // namespace isolated::supervisor
