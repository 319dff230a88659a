// Writes the seed corpora of the IPC fuzz targets: well-formed frames of the messages each side
// receives, alone and several to a stream, made with the real schema and encodeFrame, so that
// the fuzzers start from valid framing. Usage: fuzz_make_ipc_seeds DIR (DIR/ipc_from_worker,
// DIR/ipc_from_supervisor must exist).
#include <event2/buffer.h>

#include <capnp/message.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "common/event_handles.h"
#include "ipc/framing.h"
#include "ipc/messages.capnp.h"
#include "ipc/protocol.h"

namespace {

using isolated::ipc::Envelope;
using Fill = std::function<void(Envelope::Builder)>;

std::string frames(const std::vector<Fill>& fills) {
  std::unique_ptr<evbuffer, decltype(&evbuffer_free)> out(evbuffer_new(), &evbuffer_free);
  for (const auto& fill : fills) {
    capnp::MallocMessageBuilder message;
    fill(message.initRoot<Envelope>());
    isolated::ipc::encodeFrame(message, out.get());
  }
  std::string bytes(evbuffer_get_length(out.get()), '\0');
  evbuffer_remove(out.get(), bytes.data(), bytes.size());
  return bytes;
}

bool write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
  return true;
}

void headers(capnp::List<isolated::ipc::Header>::Builder list) {
  list[0].setName("content-type");
  list[0].setValue("text/plain");
  if (list.size() > 1) {
    list[1].setName("x-request-id");
    list[1].setValue("abc");
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  std::string worker = std::string(argv[1]) + "/ipc_from_worker/";
  std::string supervisor = std::string(argv[1]) + "/ipc_from_supervisor/";

  Fill hello = [](Envelope::Builder e) {
    auto h = e.initHello();
    h.setPid(42);
    h.setVersion("0.1.0");
    h.setProtocolVersion(isolated::ipc::kProtocolVersion);
    h.setStartupMs(12.5);
  };
  Fill loadError = [](Envelope::Builder e) {
    auto l = e.initLoadError();
    l.setFile("worker.js");
    l.setLine(3);
    l.setMessage("SyntaxError: Unexpected token");
    l.setApp(1);
  };
  Fill response = [](Envelope::Builder e) {
    auto r = e.initResponse();
    r.setId(1);
    r.setStatus(200);
    headers(r.initHeaders(2));
    r.setBody(kj::StringPtr("hello\n").asBytes());
  };
  Fill streamed = [](Envelope::Builder e) {
    auto r = e.initResponse();
    r.setId(2);
    r.setStatus(200);
    r.setBodyFollows(true);
  };
  Fill chunk = [](Envelope::Builder e) {
    auto c = e.initBodyChunk();
    c.setId(2);
    c.setData(kj::StringPtr("chunk").asBytes());
    c.setEnd(true);
  };
  Fill pong = [](Envelope::Builder e) {
    auto p = e.initPong();
    p.setSeq(7);
    p.setHeapUsedBytes(1 << 20);
    p.setRequestsInFlight(1);
  };
  Fill log = [](Envelope::Builder e) {
    auto l = e.initLog();
    l.setLevel(isolated::ipc::Log::Level::WARN);
    l.setMessage("console.warn from the script");
    l.setRequestId(1);
  };
  Fill credit = [](Envelope::Builder e) {
    auto c = e.initBodyCredit();
    c.setId(3);
    c.setBytes(65536);
  };
  Fill configure = [](Envelope::Builder e) {
    auto c = e.initConfigure();
    c.setProtocolVersion(isolated::ipc::kProtocolVersion);
    c.setMaxIsolates(100);
    c.setIsolateIdleTimeoutMs(300000);
  };
  Fill loadApp = [](Envelope::Builder e) {
    auto l = e.initLoadApp();
    l.setApp(1);
    l.setName("app");
    l.setVersion(1);
    l.setScriptPath("/srv/app/worker.js");
    l.setPreload(true);
    auto bindings = l.initBindings(2);
    bindings[0].setName("GREETING");
    bindings[0].setValue("hello");
    bindings[1].setName("LIMITS");
    bindings[1].setValue("{\"a\":[1,2,3]}");
    bindings[1].setJson(true);
  };
  Fill request = [](Envelope::Builder e) {
    auto r = e.initRequestStart();
    r.setId(1);
    r.setApp(1);
    r.setMethod("POST");
    r.setUrl("http://localhost/path?q=1");
    headers(r.initHeaders(2));
    r.setClientAddress("127.0.0.1");
    r.setBody(kj::StringPtr("body").asBytes());
    r.setRequestId("abc");
  };
  // Protocol v2: the app lifecycle, bindings and fetches, each side's half.
  Fill appLoaded = [](Envelope::Builder e) {
    auto a = e.initAppLoaded();
    a.setApp(1);
    a.setLoadMs(2.5);
    a.setColdStart(true);
    auto modules = a.initModules(1);
    modules[0].setPath("/srv/app/worker.js");
    modules[0].setText("export default { fetch() { return new Response('a') } }");
  };
  Fill appEvicted = [](Envelope::Builder e) {
    auto a = e.initAppEvicted();
    a.setApp(1);
    a.setReason("idle");
  };
  Fill bindingCall = [](Envelope::Builder e) {
    auto b = e.initBindingCall();
    b.setCallId(5);
    b.setParentId(1);
    b.setBinding("KV");
    b.setOp("put");
    b.setArgs("{\"key\":\"k\",\"expirationTtl\":60}");
    b.setValue(kj::StringPtr("value").asBytes());
    b.setApp(1);
  };
  Fill fetchStart = [](Envelope::Builder e) {
    auto f = e.initFetchStart();
    f.setFetchId((uint64_t{1} << 32) | 1);
    f.setParentId(1);
    f.setMethod("GET");
    f.setUrl("http://example.com/");
    headers(f.initHeaders(1));
    f.setApp(1);
  };
  Fill bindingResult = [](Envelope::Builder e) {
    auto b = e.initBindingResult();
    b.setCallId(5);
    b.setOk(true);
    b.setPayload("{\"metadata\":null}");
    b.setValue(kj::StringPtr("value").asBytes());
  };
  Fill fetchHead = [](Envelope::Builder e) {
    auto f = e.initFetchHead();
    f.setFetchId((uint64_t{1} << 32) | 1);
    f.setStatus(200);
    f.setStatusText("OK");
    headers(f.initHeaders(2));
    f.setUrl("http://example.com/");
  };
  Fill unloadApp = [](Envelope::Builder e) { e.initUnloadApp().setApp(1); };
  Fill evictIdle = [](Envelope::Builder e) { e.initEvictIdle(); };
  Fill ping = [](Envelope::Builder e) { e.initPing().setSeq(7); };
  Fill shutdown = [](Envelope::Builder e) { e.initShutdown().setDeadlineMs(30000); };
  Fill cancel = [](Envelope::Builder e) { e.initRequestCancel().setId(1); };

  write(worker + "hello", frames({hello}));
  write(worker + "load_error", frames({loadError}));
  write(worker + "response", frames({response}));
  write(worker + "streamed_response", frames({streamed, chunk}));
  write(worker + "pong_and_log", frames({pong, log}));
  write(worker + "session", frames({hello, log, response, credit, pong}));
  write(worker + "app_lifecycle", frames({hello, appLoaded, appEvicted}));
  write(worker + "binding_and_fetch", frames({bindingCall, fetchStart, response}));
  write(supervisor + "configure", frames({configure}));
  write(supervisor + "binding_and_fetch", frames({bindingResult, fetchHead}));
  write(supervisor + "unload_evict", frames({configure, loadApp, unloadApp, evictIdle}));
  write(supervisor + "request", frames({request}));
  write(supervisor + "ping_shutdown", frames({ping, shutdown}));
  write(supervisor + "load_app", frames({configure, loadApp}));
  write(supervisor + "session",
        frames({configure, loadApp, request, chunk, cancel, ping, shutdown}));
  std::string whole = frames({request});
  write(supervisor + "truncated", whole.substr(0, whole.size() / 2));
  return 0;
}
