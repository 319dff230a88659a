# The messages exchanged between the supervisor and one worker over their socketpair.
# Framing, size limits and ordering rules are documented in ipc/protocol.h.
@0xadf21580e446468a;

$import "/capnp/c++.capnp".namespace("isolated::ipc");

struct Header {
  name @0 :Text;
  value @1 :Text;
}

# Worker -> supervisor, exactly once, after Configure, once V8 is up and the worker can take
# apps and requests. A worker whose protocolVersion differs from the supervisor's is refused
# (ipc/protocol.h kProtocolVersion; rule 0).
struct Hello {
  pid @0 :UInt32;
  version @1 :Text;
  protocolVersion @2 :UInt32;
  # Milliseconds from the worker's exec to Hello.
  startupMs @3 :Float64;
}

# Worker -> supervisor: an app could not be loaded (LoadApp with preload, or a cold start).
# Requests of that app already sent to the worker are answered 503 `app-failed`.
struct LoadError {
  file @0 :Text;
  line @1 :UInt32;
  message @2 :Text;
  app @3 :UInt32;
}

# Supervisor -> worker: one HTTP request. Ids are chosen by the supervisor, unique per channel.
struct RequestStart {
  id @0 :UInt64;
  # The app deployment (LoadApp.app) that handles the request; LoadApp for it came earlier on
  # this channel.
  app @1 :UInt32;
  method @2 :Text;
  url @3 :Text;
  headers @4 :List(Header);
  clientAddress @5 :Text;
  # The whole body, when it fits in one chunk and had arrived (the fast path); empty otherwise.
  body @6 :Data;
  # The request id clients and logs see (from --request-id-header, or generated).
  requestId @7 :Text;
  # The body follows as BodyChunk messages (`body` is then empty); see ipc/protocol.h.
  bodyFollows @8 :Bool;
}

# Supervisor -> worker: the client went away or the wall limit answered; the worker must not
# answer `id` (an answer that crosses this message is ignored by the supervisor) and aborts the
# signal of the request's Request.
struct RequestCancel {
  id @0 :UInt64;
}

# Worker -> supervisor: the complete answer to RequestStart `id`.
struct Response {
  id @0 :UInt64;
  status @1 :UInt16;
  headers @2 :List(Header);
  body @3 :Data;
  # Set when the runtime, not the script, produced the answer: script-threw, bad-response,
  # no-response (500); cpu-limit, memory-limit, context-reset (503). Sent to the client in the
  # `isolated-error` header.
  runtimeError @4 :Text;
  # The body follows as BodyChunk messages (`body` is then empty); see ipc/protocol.h.
  bodyFollows @5 :Bool;
  # The script has waitUntil() work pending as it answers (as the head goes out, for a streamed
  # response): its fetches and binding calls may come for up to Configure.waitUntilTimeoutMs
  # after this Response, and the supervisor keeps the request held that long (rule 3).
  waitUntilPending @6 :Bool;
}

struct Ping {
  seq @0 :UInt64;
}

struct Pong {
  seq @0 :UInt64;
  heapUsedBytes @1 :UInt64;
  heapTotalBytes @2 :UInt64;
  heapLimitBytes @3 :UInt64;
  externalBytes @4 :UInt64;
  requestsInFlight @5 :UInt32;
  # Worst delay of the worker's event loop behind its schedule since the previous Pong.
  eventLoopLagMs @6 :Float64;
  # A tiny script ran in the isolate while answering this ping: it still executes JavaScript.
  probeOk @7 :Bool;
  requestsServed @8 :UInt64;
  cpuLimitTerminations @9 :UInt64;
  memoryLimitTerminations @10 :UInt64;
  # Contexts or isolates rebuilt after a terminated execution.
  rebuilds @11 :UInt64;
  # console lines dropped because the channel to the supervisor was backed up.
  droppedLogLines @12 :UInt64;
  # Isolates alive now, and per app deployment what has happened since the previous Pong.
  isolatesLoaded @13 :UInt32;
  apps @14 :List(AppUsage);
  # setTimeout/setInterval timers pending in every live context now. A request's timers end
  # with its work (docs/limits.md), so on an idle worker this counts only top-level timers.
  timersPending @15 :UInt32;
  # App definitions the worker holds now (LoadApp, less UnloadApp and ForgetApp).
  appsDefined @16 :UInt32;
}

# In Pong: one app deployment's use of the worker since the previous Pong (only apps with
# anything to report).
struct AppUsage {
  app @0 :UInt32;
  # CPU time its JavaScript turns used, in microseconds.
  cpuMicros @1 :UInt64;
  heapUsedBytes @2 :UInt64;
  cpuLimitTerminations @3 :UInt32;
  memoryLimitTerminations @4 :UInt32;
}

# Supervisor -> worker: finish the requests in flight, then exit. No RequestStart follows it.
struct Shutdown {
  # Milliseconds the worker may spend finishing; past it the supervisor kills it.
  deadlineMs @0 :UInt32;
}

# Worker -> supervisor: a console line from the script, or a runtime diagnostic.
struct Log {
  level @0 :Level;
  message @1 :Text;
  # 0 when the line does not belong to a request.
  requestId @2 :UInt64;
  # The app deployment whose script logged the line; 0 for the worker's own diagnostics.
  app @3 :UInt32;
  enum Level {
    debug @0;
    info @1;
    warn @2;
    error @3;
  }
}

# One binding of the script's environment (a variable or a secret; the worker does not
# distinguish them).
struct EnvBinding {
  name @0 :Text;
  # The string itself, or with `json` set, JSON text to parse (a non-string variable).
  value @1 :Text;
  json @2 :Bool;
}

# Supervisor -> worker, exactly once and as the supervisor's first message: the worker-wide
# settings. A worker of another protocol version logs both versions and exits.
struct Configure {
  protocolVersion @0 :UInt32;
  # Isolates the worker keeps (0: no bound); beyond it the least recently used idle one is
  # evicted. In a --shared-isolate worker it bounds loaded apps (contexts).
  maxIsolates @1 :UInt32;
  # An isolate with no request for this long is evicted (0: never).
  isolateIdleTimeoutMs @2 :UInt32;
  # How long a request's waitUntil() work may run after its Response before the worker
  # abandons it (--wait-until-timeout; 0: the worker's default, 30 s).
  waitUntilTimeoutMs @3 :UInt32;
}

enum Isolation {
  shared @0;
  context @1;
  isolate @2;
}

# Supervisor -> worker: defines app deployment `app` in this worker, before the first
# RequestStart or Scheduled for it (rule 21). The worker keeps the definition until UnloadApp
# and creates the app's isolate on its first request (a cold start), or at once with
# `preload`, answering AppLoaded or LoadError. An evicted isolate is created again from the
# definition on the app's next request.
struct LoadApp {
  # A deployment id: one app at one version. Chosen by the supervisor, never 0, never reused
  # within a supervisor's life; a new version of an app is a new id.
  app @0 :UInt32;
  name @1 :Text;
  version @2 :UInt64;
  scriptPath @3 :Text;
  # A script snapshot made by `isolated __snapshot-script` for this version (empty: none).
  scriptSnapshot @4 :Text;
  # The app's environment (vars and secrets; the worker does not distinguish them). The
  # worker creates no isolate until it has it, so that service-worker scripts see the
  # bindings as globals from their first line. At most 1 MB (common/bindings.h).
  bindings @5 :List(EnvBinding);
  heapLimitMb @6 :UInt32;
  cpuLimitMs @7 :UInt32;
  isolation @8 :Isolation;
  preload @9 :Bool;
  # The exact text of every file the version loads, as the worker that validated it read them
  # (AppLoaded.modules): a worker loads these instead of reading the files, so every worker
  # runs the validated version even after the files have changed. Empty: read the files.
  modules @10 :List(ModuleSource);
  # The app's storage bindings (KV, SQL database, object storage): their names in `env` and
  # their kinds. The backend (and its URL, which may hold a password) stays in the supervisor,
  # which performs every BindingCall (rules 23-25).
  storage @11 :List(StorageBinding);
  # The app's service bindings: names in `env` whose fetch() calls another app of the server
  # (a FetchStart with `service` set, rule 26). The target app stays in the supervisor.
  services @12 :List(Text);
}

# One storage binding of an app.
struct StorageBinding {
  name @0 :Text;
  kind @1 :Kind;
  enum Kind {
    kv @0;
    database @1;
    storage @2;
  }
}

struct ModuleSource {
  path @0 :Text;
  text @1 :Text;
}

# Worker -> supervisor: app `app`'s isolate was created (a preload or a cold start).
struct AppLoaded {
  app @0 :UInt32;
  # Wall milliseconds to create the isolate and load the script.
  loadMs @1 :Float64;
  # Created because a request came (not a preload).
  coldStart @2 :Bool;
  # With a preload of a LoadApp that had no modules: the files the app loaded, as read (at most
  # kMaxModuleBytes in all; none when larger, and the version is then not pinned).
  modules @3 :List(ModuleSource);
}

# Worker -> supervisor: app `app`'s isolate was discarded. The definition stays until
# UnloadApp or ForgetApp; while it does, the next request for the app cold-starts it again.
struct AppEvicted {
  app @0 :UInt32;
  # idle, lru, memory, unload
  reason @1 :Text;
}

# Supervisor -> worker: forget app deployment `app` once the requests and waitUntil() work it
# holds for it have ended. No RequestStart or Scheduled for it follows.
struct UnloadApp {
  app @0 :UInt32;
}

# Supervisor -> worker: drop the definition of app deployment `app`, whose isolate the worker
# reported evicted (AppEvicted) and which has been sent no request since (rule 21). Its sources
# and code caches are what a worker holding a thousand cold apps would otherwise keep. The
# supervisor sends LoadApp again before the deployment's next request on this channel.
struct ForgetApp {
  app @0 :UInt32;
}

# Supervisor -> worker: the worker is over its memory threshold; evict every isolate that holds
# no request, least recently used first, then release free memory to the system.
struct EvictIdle {
  reserved @0 :UInt32;
}

# Supervisor -> worker: run the script's scheduled handler for a cron trigger. Like a
# RequestStart (same id space, same limits), it is answered by exactly one Response with the
# same id: 200 when the handler (and its returned promise) succeeded, otherwise a runtime error.
struct Scheduled {
  id @0 :UInt64;
  # When the trigger was due, in milliseconds since the Unix epoch (event.scheduledTime).
  scheduledTime @1 :Float64;
  # The cron expression that fired (event.cron).
  cron @2 :Text;
  # The app deployment whose scheduled handler runs.
  app @3 :UInt32;
}

# ---- Outbound fetch() (ordering and limits: ipc/protocol.h, "Outbound fetch") ----

# Worker -> supervisor: start one outbound HTTP request. `fetchId` is chosen by the worker,
# unique per channel and never reused; `parentId` is the RequestStart id the JavaScript was
# running for (0: none, which the supervisor refuses).
struct FetchStart {
  fetchId @0 :UInt64;
  parentId @1 :UInt64;
  method @2 :Text;
  url @3 :Text;
  headers @4 :List(Header);
  # The whole request body (bounded by kFetchMaxRequestBodyBytes); empty for none, and empty
  # when bodyFollows is set.
  body @5 :Data;
  redirect @6 :RedirectMode;
  enum RedirectMode {
    follow @0;
    manual @1;
    error @2;
  }
  # The request body is streamed after this message as FetchUpload messages (ipc/protocol.h).
  bodyFollows @7 :Bool;
  # The app deployment whose script fetches; the supervisor checks that parentId belongs to it
  # and to this worker, and applies that app's policy.
  app @8 :UInt32;
  # Not empty: the fetch goes through the app's service binding of this name to another app of
  # the server, without the network (rule 26). `url` is then the URL that app's Request sees.
  service @9 :Text;
}

# Supervisor -> worker: the final response's status line and headers. After it come
# FetchBody messages, the last one with `end` set, or a FetchFailed.
struct FetchHead {
  fetchId @0 :UInt64;
  status @1 :UInt16;
  statusText @2 :Text;
  headers @3 :List(Header);
  # The URL of the response (after redirects).
  url @4 :Text;
  redirected @5 :Bool;
}

# Supervisor -> worker: response body bytes, at most kFetchMaxChunkBytes each; `end` marks the
# last message of the fetch (its data may be empty).
struct FetchBody {
  fetchId @0 :UInt64;
  data @1 :Data;
  end @2 :Bool;
}

# Worker -> supervisor: the worker has handed `bytes` more body bytes of `fetchId` to
# JavaScript; the supervisor may send that many more.
struct FetchCredit {
  fetchId @0 :UInt64;
  bytes @1 :UInt32;
}

# Supervisor -> worker: the fetch failed (refused, network error, redirect error, limit). The
# last message for `fetchId`; `message` becomes the TypeError's message.
struct FetchFailed {
  fetchId @0 :UInt64;
  message @1 :Text;
}

# Worker -> supervisor: JavaScript aborted the fetch, or the context that made it is gone.
# The supervisor stops the transfer and sends nothing more for `fetchId`.
struct FetchAbort {
  fetchId @0 :UInt64;
}

# Both directions: a piece of a streamed body. Supervisor -> worker: the request body of
# RequestStart `id`; worker -> supervisor: the response body of Response `id`. At most
# kBodyChunkBytes of data; `end` marks the last one (which may be empty).
struct BodyChunk {
  id @0 :UInt64;
  data @1 :Data;
  end @2 :Bool;
  # Worker -> supervisor only, with `end`: the body failed midway (the script's stream threw or
  # the request's state was discarded); the client connection is closed without completing it.
  aborted @3 :Bool;
}

# Both directions: the receiver of a streamed body has consumed `bytes` more of it, so the
# sender may send that many more (see the window in ipc/protocol.h).
struct BodyCredit {
  id @0 :UInt64;
  bytes @1 :UInt32;
}

# Worker -> supervisor: a piece of the streamed request body of a FetchStart with bodyFollows.
# At most kFetchMaxChunkBytes of data, and only within the credit window; `end` marks the last
# one (its data may be empty).
struct FetchUpload {
  fetchId @0 :UInt64;
  data @1 :Data;
  end @2 :Bool;
}

# Supervisor -> worker: libcurl has taken `bytes` more bytes of the streamed request body of
# `fetchId`, so the worker may send that many more.
struct FetchUploadCredit {
  fetchId @0 :UInt64;
  bytes @1 :UInt32;
}

# ---- Storage bindings (ordering and limits: ipc/protocol.h, "Storage bindings") ----

# Worker -> supervisor: one operation on a storage binding of app deployment `app`. `callId`
# is chosen by the worker, unique per channel ((app << 32) | n, like fetch ids); `parentId` is
# the RequestStart id the JavaScript runs for. `op` names the operation of the binding's kind
# (docs/bindings.md), `args` its arguments as JSON text, and `value` the bytes written (a KV
# value or an object body), at most kBindingMaxValueBytes.
struct BindingCall {
  callId @0 :UInt64;
  parentId @1 :UInt64;
  binding @2 :Text;
  op @3 :Text;
  args @4 :Text;
  value @5 :Data;
  app @6 :UInt32;
}

# Supervisor -> worker: the one answer to BindingCall `callId`. On success `payload` is the
# result as JSON text and `value` the bytes read (a KV value or an object body), if any; on
# failure `error` is the message the script's promise rejects with.
struct BindingResult {
  callId @0 :UInt64;
  ok @1 :Bool;
  error @2 :Text;
  payload @3 :Text;
  value @4 :Data;
}

struct Envelope {
  union {
    hello @0 :Hello;
    loadError @1 :LoadError;
    requestStart @2 :RequestStart;
    requestCancel @3 :RequestCancel;
    response @4 :Response;
    ping @5 :Ping;
    pong @6 :Pong;
    shutdown @7 :Shutdown;
    log @8 :Log;
    configure @9 :Configure;
    scheduled @10 :Scheduled;
    fetchStart @11 :FetchStart;
    fetchHead @12 :FetchHead;
    fetchBody @13 :FetchBody;
    fetchCredit @14 :FetchCredit;
    fetchFailed @15 :FetchFailed;
    fetchAbort @16 :FetchAbort;
    bodyChunk @17 :BodyChunk;
    bodyCredit @18 :BodyCredit;
    fetchUpload @19 :FetchUpload;
    fetchUploadCredit @20 :FetchUploadCredit;
    loadApp @21 :LoadApp;
    appLoaded @22 :AppLoaded;
    appEvicted @23 :AppEvicted;
    unloadApp @24 :UnloadApp;
    evictIdle @25 :EvictIdle;
    bindingCall @26 :BindingCall;
    bindingResult @27 :BindingResult;
    forgetApp @28 :ForgetApp;
  }
}
