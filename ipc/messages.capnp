# The messages exchanged between the supervisor and one worker over their socketpair.
# Framing, size limits and ordering rules are documented in ipc/protocol.h.
@0xadf21580e446468a;

$import "/capnp/c++.capnp".namespace("isolated::ipc");

struct Header {
  name @0 :Text;
  value @1 :Text;
}

# Worker -> supervisor, exactly once, after the script has loaded and the worker can serve.
struct Hello {
  pid @0 :UInt32;
  version @1 :Text;
  scriptName @2 :Text;
  # Milliseconds from the worker's exec to the end of script loading.
  startupMs @3 :Float64;
}

# Worker -> supervisor, instead of Hello, when the script cannot be loaded. The worker then exits.
struct LoadError {
  file @0 :Text;
  line @1 :UInt32;
  message @2 :Text;
}

# Supervisor -> worker: one HTTP request. Ids are chosen by the supervisor, unique per channel.
struct RequestStart {
  id @0 :UInt64;
  # The script that handles the request; a worker may later host several, one isolate each.
  script @1 :Text;
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

# Supervisor -> worker, exactly once and as the supervisor's first message: the script's
# environment. The worker loads the script only once it has arrived, so that service-worker
# scripts see the bindings as globals from their first line. At most 1 MB of names and values
# (see common/bindings.h).
struct Configure {
  bindings @0 :List(EnvBinding);
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
  }
}
