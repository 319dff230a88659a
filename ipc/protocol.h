// The supervisor <-> worker protocol: framing, limits and ordering.
//
// Transport: one AF_UNIX SOCK_STREAM socketpair per worker. The worker's end is its fd 3.
//
// Framing: each message is one `Envelope` (ipc/messages.capnp) in Cap'n Proto's standard stream
// framing: a little-endian u32 holding (segment count - 1), one u32 size in words per segment,
// padding to 8 bytes, then the segments. Nothing else is on the wire.
//
// Limits (both sides, see FrameLimits): the segment count, the total message size and the
// reader's traversal and nesting limits are bounded. A frame header that declares more than the
// limit is rejected as soon as the header arrives, before its body is buffered. A violation, or
// a message that fails to decode, is a broken channel: the receiver closes it. The supervisor
// logs the reason and replaces the worker; neither side crashes.
//
// Batching: a writer appends the frames of one loop iteration to one output buffer and writes
// them together at the end of that iteration (one sendmsg while the socket has room); a reader
// decodes every complete frame on each read callback.
//
// Ordering (per channel; the stream preserves order):
//  0. Supervisor -> worker: Configure (worker-wide settings and the supervisor's protocol
//     version) is the supervisor's first message, sent right after the spawn, exactly once.
//     Worker -> supervisor: Hello carries the worker's protocol version. Either side that sees
//     a version other than its own kProtocolVersion logs both and closes the channel (the
//     supervisor treats the worker as failed at start and replaces it with backoff).
//  1. Worker -> supervisor: exactly one Hello comes first, once V8 is up; Log messages may
//     precede it. Hello says nothing about any app.
//  2. Supervisor -> worker: LoadApp, RequestStart and Scheduled only after Hello. RequestStart
//     and Scheduled share one id space; each id is used once per channel.
// 21. Apps (per app deployment id): LoadApp(app) precedes every RequestStart or Scheduled
//     naming `app` on the channel, and is sent at most once per id, or once more after each
//     ForgetApp(app) (see below). The worker answers a
//     LoadApp with `preload` by AppLoaded(app) or LoadError(app); a cold start (the first
//     request, or the first after an eviction) is reported by AppLoaded with coldStart, or by
//     LoadError, after which the requests the worker holds for the app are answered 503
//     `app-failed`. AppEvicted(app) reports an isolate discarded (idle, lru, memory, unload);
//     the definition stays until UnloadApp(app), after which the supervisor sends nothing more
//     for `app` and the worker drops the definition once the app's requests and waitUntil()
//     work have ended (reported by AppEvicted with reason `unload` if an isolate was alive).
//     A RequestStart, Scheduled or FetchStart naming an app the worker or supervisor does not
//     hold, or a FetchStart whose parentId belongs to another app, breaks the protocol.
//     Log messages carry the app of the script that wrote them (0: the worker itself).
//     Refinements (the worker, worker/isolate_registry.h):
//     - A LoadApp with app 0 or an id already defined breaks the protocol. Limits of 0 in
//       LoadApp stand for the serve defaults. UnloadApp for an app the worker does not hold is
//       logged and ignored. After UnloadApp, a RequestStart or Scheduled naming the app breaks
//       the protocol.
//     - A failed load leaves the definition: the next request for the app tries again.
//     - An isolate that can no longer load its script after a limit breach is dropped and
//       reported by LoadError(app) (no AppEvicted); the requests it held are answered 503
//       `app-failed`; the next request cold-starts the app again.
//     - AppLoaded for a cold start precedes the Response of the request that caused it.
//     - Eviction reasons: idle (Configure.isolateIdleTimeoutMs without a request or any
//       traffic), lru (Configure.maxIsolates; when no isolate is idle the bound is exceeded,
//       never a request failed), memory (EvictIdle, or the worker's shared isolate, in
//       `--shared-isolate` mode, hit its heap limit: every app in it is evicted), unload.
//     - Forgetting (version 4): on AppEvicted(app) with a reason other than unload, for an
//       app with no request outstanding on the channel, the supervisor sends ForgetApp(app)
//       and counts the app as not defined there. The worker drops the definition (sources, code
//       caches, bindings) and keeps only where the app's fetch and call id sequences stopped
//       and its usage not yet reported in a Pong, so ids stay unique when the app is defined
//       again; UnloadApp for a forgotten app drops that too. The supervisor never sends a
//       request between its ForgetApp and the next LoadApp, so the worker is normally without
//       an isolate of the app when ForgetApp arrives; if it has one (a request that crossed
//       the AppEvicted), the definition is dropped at the isolate's next eviction, and a
//       LoadApp arriving first keeps it instead. A worker holding a thousand cold apps thus
//       keeps none of their sources; an app's next request costs a LoadApp and a compile.
//     - Pong.apps lists the apps that ran JavaScript or hit a limit since the previous Pong;
//       the health probe runs in the most recently active isolate and is not charged to it.
// 22. Pinning: the AppLoaded that answers a preload of a LoadApp without modules carries the
//     text of the files the app loaded (at most kMaxModuleBytes); the supervisor sends them in
//     every later LoadApp of that deployment, and a worker given modules reads no file for
//     them. A deployment therefore runs the same code in every worker, whatever happens to
//     the files after it was validated. The supervisor pins only text that is still its
//     file's (each path must name a regular file holding exactly that text): a worker taken
//     over by a script must not hand every other worker code of its choosing. Otherwise the
//     version is not pinned (a warning) and workers read the files.
//  3. Worker -> supervisor: exactly one Response per RequestStart or Scheduled id, in any order
//     relative to other ids. Log messages naming an id come before its Response. Work the
//     script registered with waitUntil() may continue after the Response (and may still log
//     with the id) for at most Configure.waitUntilTimeoutMs; the worker accounts for it and a
//     Shutdown waits for it (up to the deadline). A request's timers and fetches end with the
//     request and that work (docs/limits.md). A Response sent while such work is pending says
//     so (waitUntilPending): the supervisor then accepts the request's fetches and binding
//     calls (rules 8, 23) for waitUntilTimeoutMs after it, however many other requests it
//     answers meanwhile; without it, only for its most recent answers. After a context rebuild the
//     worker may run a request it still holds again (its body arrived whole, no answer begun, no
//     fetch made): the supervisor sees nothing of it but, still, exactly one Response for the id.
//  4. RequestCancel(id) may cross the Response for id; the supervisor ignores a Response whose
//     request it has already answered or cancelled, and the worker ignores a cancel for an id it
//     has already answered.
//  5. Ping(seq) is answered by Pong(seq); pings are never reordered relative to each other.
//  6. Shutdown is the supervisor's last message. The worker answers the requests it holds, then
//     exits; the supervisor sends nothing more.
//  7. EOF on the socket means the peer is gone. A worker exits at once on EOF.
//
// Outbound fetch (per fetchId; ids are chosen by the worker, unique per channel):
//  8. Worker -> supervisor: FetchStart(fetchId, parentId) opens a fetch; parentId is the
//     RequestStart id the JavaScript runs for, and may already be answered (waitUntil work).
//     The worker makes fetch ids as (app << 32) | n, n counting per app deployment, so that
//     they are unique per channel and route to their app; the supervisor needs only uniqueness.
//  9. Supervisor -> worker: either one FetchFailed, or one FetchHead followed by FetchBody
//     messages of which exactly the last has `end` set, optionally cut short by one
//     FetchFailed. Nothing follows the `end` body or a FetchFailed.
// 10. Flow control: the worker starts with a window of kFetchWindowBytes for each fetch. The
//     supervisor never has more than that many body bytes of a fetch sent and not yet
//     credited; the worker sends FetchCredit(bytes) as it hands chunks to JavaScript. (The
//     supervisor pauses the transfer while the window is full.)
// 11. FetchAbort(fetchId) from the worker may cross anything the supervisor sends for the id;
//     the worker ignores messages for ids it no longer holds, and the supervisor ignores
//     FetchAbort and FetchCredit for ids it has finished.
// 12. When the supervisor cancels a request (RequestCancel), it fails that request's fetches
//     (FetchFailed); when a worker is lost, its fetches are dropped.
// Limits (a worker message over them gets FetchFailed, never a crash): see the kFetch*
// constants below. The supervisor also bounds concurrent fetches per worker and, per parent
// request, the number of fetches (--max-subrequests).
// Streamed bodies (both directions, per request id):
// 13. A body that fits in one chunk and has arrived whole rides inside RequestStart.body (and a
//     response body inside Response.body): the fast path, one message per request. Otherwise
//     RequestStart (or Response) has bodyFollows set and the body follows as BodyChunk messages
//     after it, in order, each with at most kBodyChunkBytes of data; exactly one has `end`, the
//     last. Chunks for different ids interleave freely.
// 14. Flow control is by credit. The sender starts with a window of kBodyWindowBytes for the
//     body; every BodyCredit(id, n) from the receiver lets it send n more bytes. The receiver
//     grants credit only for bytes it has passed on (the worker: handed to JavaScript; the
//     supervisor: written to the client socket), so neither process ever holds more than one
//     window per streamed body. A worker that sends more than its credit breaks the protocol
//     (the supervisor kills it); credit beyond the window is ignored.
// 15. RequestCancel(id) ends both streams of `id`: the worker drops chunks that cross it and
//     sends nothing more for `id` (a streamed response in progress simply stops); the
//     supervisor ignores chunks and credit for ids it no longer has.
// 16. A streamed response that cannot complete (the script's stream failed, a limit discarded
//     the context) ends with BodyChunk{end, aborted}; the supervisor closes the client
//     connection so the client sees a truncated body, never a falsely complete one.
// Streamed fetch request bodies (per fetchId):
// 17. A request body known in full and at most kFetchMaxChunkBytes rides inside
//     FetchStart.body. Otherwise (a stream, or longer bytes) FetchStart has bodyFollows set and
//     the body follows as FetchUpload messages after it, in order, each with at most
//     kFetchMaxChunkBytes of data; the last has `end`. A FetchUpload for a fetch without
//     bodyFollows, after the end, or beyond the window fails the fetch (FetchFailed).
// 18. Flow control: the worker starts with a window of kFetchWindowBytes per upload and sends
//     no more body bytes than have been credited; the supervisor sends FetchUploadCredit(n) as
//     libcurl takes n bytes to the origin. So neither process holds more than one window of an
//     upload, and the script's stream is read only as fast as the origin reads. The worker
//     holds at most one piece waiting for credit.
// 19. FetchHead, FetchBody and FetchFailed may come before the upload has ended (an origin may
//     answer early). After a FetchFailed, a FetchBody with `end` or a FetchAbort the worker
//     sends nothing more for the id; FetchUpload messages that cross them are ignored, as are
//     those after a 303 (or a 301/302 of a POST) turned the fetch into a body-less GET.
// 20. A redirect that would send a streamed body again (307, 308, or 301/302 of a method other
//     than POST) fails the fetch with FetchFailed: a stream cannot be replayed (the Fetch
//     spec's rule for bodies whose source is a stream). Without a Content-Length header from
//     the script the body is sent with chunked transfer encoding.
// Storage bindings (per callId; ids are chosen by the worker, unique per channel):
// 23. Worker -> supervisor: BindingCall(callId, parentId, app, binding, op, args, value).
//     parentId is the RequestStart id the JavaScript runs for (answered or not: waitUntil()
//     work). The supervisor refuses, with a BindingResult error and never by breaking the
//     channel, a call whose parent this worker does not hold (or held) for `app`, a binding
//     `app`'s deployment does not have, more than kBindingMaxCallsPerRequest calls for one
//     request, and more than kBindingMaxInFlightPerWorker calls in flight for one worker.
//     Call ids are (app << 32) | n like fetch ids, so that results route to their app.
// 24. Supervisor -> worker: exactly one BindingResult per BindingCall, in any order relative to
//     other calls (storage threads finish in any order). Results for a worker that is gone are
//     dropped; the worker ignores results for calls no isolate of it holds any more.
// 25. Sizes: a written or read value (KV value, object body) is at most kBindingMaxValueBytes
//     and rides whole in its message (25 MiB plus bounded arguments fits the 64 MiB frame);
//     args are at most kBindingMaxArgsBytes of JSON; a SQL result at most
//     kBindingMaxPayloadBytes of JSON. Larger input is refused before it is sent (worker) and
//     again on arrival (supervisor).
// Service bindings:
// 26. A FetchStart with `service` set names a service binding of its app (LoadApp.services);
//     the supervisor checks it like any fetch (parent, subrequests) and that the app has the
//     binding, and answers it exactly like a network fetch (rules 9-11, 17-19): the target
//     app's Response becomes FetchHead and FetchBody messages, its errors (503, 504, ...) a
//     response too; only a refusal (no such binding, the depth bound kServiceMaxDepth) is a
//     FetchFailed. To the target's worker it is an ordinary RequestStart. Redirects are not
//     followed (the target's 3xx is the response).
//
// File descriptors (for later use: passing an accepted client socket or a shared snapshot) travel
// separately as SCM_RIGHTS with one byte of payload, see ipc/fd_passing.h.
#pragma once

#include <cstddef>
#include <cstdint>

namespace isolated::ipc {

// Rule 22: the most source text one deployment pins (larger apps load from their files).
inline constexpr size_t kMaxModuleBytes = 16u << 20;

// Bumped whenever a message or rule changes meaning; see rule 0.
inline constexpr uint32_t kProtocolVersion = 4;

// Streamed bodies (see rule 8): the largest data in one BodyChunk, and the credit window each
// direction of each request starts with.
inline constexpr uint32_t kBodyChunkBytes = 64u << 10;
inline constexpr uint32_t kBodyWindowBytes = 256u << 10;

struct FrameLimits {
  // Largest whole frame, header included. A body larger than kBodyChunkBytes is streamed in
  // chunks, but a response built whole by the script may still ride in one Response, so this
  // bounds such a body.
  size_t maxMessageBytes = 64u << 20;
  uint32_t maxSegments = 64;
  // Cap'n Proto reader limits: words visited while reading (amplification guard) and pointer
  // nesting depth.
  uint64_t traversalLimitWords = (64u << 20) / 8 * 2;
  int nestingLimit = 32;
};

// Outbound fetch limits, checked by the worker (precise TypeErrors) and again by the
// supervisor (which trusts no peer).
inline constexpr size_t kFetchMaxUrlBytes = 16u << 10;
inline constexpr size_t kFetchMaxHeaders = 256;
// Names and values of all headers together, request or response.
inline constexpr size_t kFetchMaxHeaderBytes = 256u << 10;
// A request body inside FetchStart (rule 17: the worker streams bodies over one chunk, so this
// only bounds what a peer may send).
inline constexpr size_t kFetchMaxRequestBodyBytes = 32u << 20;
// Body bytes per FetchBody (response) and FetchUpload (request) message.
inline constexpr size_t kFetchMaxChunkBytes = 64u << 10;
// Body bytes in flight per fetch and direction: response bytes sent by the supervisor and not
// yet credited by the worker, and request bytes sent by the worker and not yet taken by
// libcurl.
inline constexpr size_t kFetchWindowBytes = 256u << 10;
// Concurrent fetches one worker may hold open in the supervisor.
inline constexpr size_t kFetchMaxPerWorker = 256;

// Storage bindings (rules 23-25).
inline constexpr size_t kBindingMaxValueBytes = 25u << 20;
inline constexpr size_t kBindingMaxArgsBytes = 1u << 20;
inline constexpr size_t kBindingMaxPayloadBytes = 32u << 20;
inline constexpr size_t kBindingMaxNameBytes = 256;
inline constexpr uint32_t kBindingMaxCallsPerRequest = 1000;
inline constexpr size_t kBindingMaxInFlightPerWorker = 1000;

// Service bindings (rule 26): the most nested calls one client request may cause (A -> B is
// depth 1); a call beyond it fails, so a loop A -> B -> A ends.
inline constexpr uint32_t kServiceMaxDepth = 16;

}  // namespace isolated::ipc
