// The script's handlers, in both syntaxes (an ES module's default export, or service-worker
// `addEventListener('fetch' | 'scheduled')`), and dispatch: the host's entry points for each
// request and each scheduled (cron) event.
import { bodySource } from './body.js';
import { IncomingBody, sendStreamed } from './body_stream.js';
import { formatArg } from './console.js';
import { kHeaderList } from './headers.js';
import { currentEnv } from './env.js';
import { ExecutionContext } from './execution_context.js';
import { native } from './native.js';
import { abortIncomingRequest, incomingRequest, Response } from './request_response.js';
import { dispatchScheduledTo } from './scheduled.js';
import { urlClasses } from './url.js';

const fetchListeners = [];
const scheduledListeners = [];
let moduleHandler = null;
// The Requests of incoming requests not yet answered, by id, for abortRequest. An entry leaves
// when the answer is handed to the host (for a streamed body, once it has all been written) or
// when the host cancels the request; a context the host discards takes its map with it.
// The permanent entry under id 0 (ids start at 1) keeps the map from ever emptying: V8 shrinks,
// which means reallocates, a Map's table each time its last entry is deleted, and with one
// request at a time that would be once per request.
const kKeepAlive = 0;
const unanswered = new Map([[kKeepAlive, undefined]]);

// Request `id` has its answer (or its failure) handed to the host: it leaves `unanswered`.
function answered(id) {
  unanswered.delete(id);
}

// The host's fail() for an incoming request: it is answered, with an error.
function fail(id, kind, message) {
  answered(id);
  native.fail(id, kind, message);
}

// The handler lists of service-worker syntax, by event type. Their listeners are functions; the
// global addEventListener (global_events.js) puts them here, not on the global EventTarget.
function handlerList(type) {
  if (type === 'fetch') return fetchListeners;
  if (type === 'scheduled') return scheduledListeners;
  return null;
}

// Handles addEventListener(type, listener) when `type` is a handler type ('fetch' or
// 'scheduled'): the listener (if it is a function) joins the list. False for other types.
export function addHandlerListener(type, listener) {
  const list = handlerList(type);
  if (list === null) return false;
  if (typeof listener === 'function') list.push(listener);
  return true;
}

// removeEventListener's counterpart: the listener's first registration leaves the list.
export function removeHandlerListener(type, listener) {
  const list = handlerList(type);
  if (list === null) return false;
  const index = list.indexOf(listener);
  if (index >= 0) list.splice(index, 1);
  return true;
}

const kContext = Symbol('context');

export class FetchEvent {
  constructor(request, context) {
    this.type = 'fetch';
    this.request = request;
    this.response = undefined;
    this[kContext] = context;
  }
  respondWith(response) {
    if (this.response !== undefined) throw new Error('respondWith() was already called');
    this.response = Promise.resolve(response);
  }
  waitUntil(promise) {
    if (this[kContext] === undefined) throw new Error('waitUntil() outside of a request');
    this[kContext].waitUntil(promise);
  }
  passThroughOnException() {
    if (this[kContext] !== undefined) this[kContext].passThroughOnException();
  }
}

// The headers as the host takes them: each name and value followed by a NUL, which neither can
// contain (worker/response_writer.h).
function headerText(headers) {
  let text = '';
  for (const [name, value] of headers[kHeaderList]) text += name + '\0' + value + '\0';
  return text;
}

function toResponse(id, value) {
  if (!(value instanceof Response)) {
    fail(id, 'bad-response',
         `the handler returned ${value === null ? 'null' : typeof value}, not a Response`);
    return;
  }
  if (value.type === 'error') {
    fail(id, 'bad-response', 'the handler returned Response.error(), a network error');
    return;
  }
  const head = headerText(value.headers);
  let source;
  try {
    source = bodySource(value);
  } catch (error) {
    reject(id, error);
    return;
  }
  if (source.stream === undefined) {
    // The fast path: a string or bytes body goes to the host as it is.
    answered(id);
    native.respond(id, value.status, head, source.bytes);
    return;
  }
  // A stream body goes out chunk by chunk, as the client takes it.
  sendStreamed(id, value.status, head, source.stream)
      .then(() => answered(id), (error) => reject(id, error));
}

function reject(id, error) {
  fail(id, 'script-threw', error instanceof Error ? (error.stack || String(error)) :
                                                'Uncaught ' + formatArg(error));
}

// Called by the host for each request. Never throws: every outcome becomes a native call.
// `body` is the whole body (an ArrayBuffer) or null; with `bodyFollows` it is still arriving.
export function dispatch(id, method, url, flatHeaders, body, bodyFollows) {
  let result;
  try {
    const request =
      incomingRequest(url, method, flatHeaders, bodyFollows ? new IncomingBody(id) : body);
    unanswered.set(id, request);
    const ctx = new ExecutionContext(id);
    if (moduleHandler !== null) {
      if (typeof moduleHandler.fetch !== 'function') {
        fail(id, 'no-response', 'the module\'s default export has no fetch() method');
        return;
      }
      result = moduleHandler.fetch(request, currentEnv(), ctx);
    } else {
      const event = new FetchEvent(request, ctx);
      for (const listener of fetchListeners) {
        listener(event);
        if (event.response !== undefined) break;
      }
      if (event.response === undefined) {
        fail(id, 'no-response', 'no fetch listener called respondWith()');
        return;
      }
      result = event.response;
    }
  } catch (error) {
    reject(id, error);
    return;
  }
  if (result instanceof Response) {
    toResponse(id, result);
  } else {
    Promise.resolve(result).then((value) => toResponse(id, value), (error) => reject(id, error));
  }
}

// The runtime's own handlers for warmUp(): what nearly every handler does last (answer a Response
// with headers) and, with `parseUrl`, first (parse its URL, which loads whatwg-url: url.js).
// `searchParams` and `headers.get` are left out: they grew each isolate by about 65 KB (V8's
// off-heap string table doubling) for no measured gain.
const kWarmUpInit = { status: 200, headers: { 'content-type': 'text/plain;charset=UTF-8' } };
const warmUpHandlers = [
  { fetch: () => new Response('warm', kWarmUpInit) },
  { fetch: (request) => new Response(new (urlClasses().URL)(request.url).pathname, kWarmUpInit) },
];

// Called by the host before a context's first request (worker/runtime_warm_up.h): one request
// through dispatch() to a handler of the runtime's, never to the app's handler or listeners, so
// that the request path is compiled before the app's first request instead of within its CPU
// limit. The answer reaches the host as any other does; the host drops it. Never throws, like
// dispatch.
export function warmUp(id, url, flatHeaders, parseUrl) {
  const appHandler = moduleHandler;
  moduleHandler = warmUpHandlers[parseUrl ? 1 : 0];
  try {
    dispatch(id, 'GET', url, flatHeaders, null, false);
  } finally {
    moduleHandler = appHandler;
  }
}

// Called by the host when it cancels request `id` (RequestCancel: its client went away, or it
// ran out of time), after it has forgotten the request: its Request's signal aborts.
export function abortRequest(id) {
  const request = unanswered.get(id);
  if (request === undefined) return;
  unanswered.delete(id);
  abortIncomingRequest(request, 'The request was cancelled: its client disconnected or it ' +
                                'exceeded its time limit');
}

// Called by the host for each Scheduled message. Never throws, like dispatch.
export function dispatchScheduled(id, scheduledTime, cron) {
  dispatchScheduledTo({ module: moduleHandler, listeners: scheduledListeners }, id, scheduledTime,
                      cron);
}

// Called once by the host after an ES module loads, with its default export.
export function setModuleHandler(exported) {
  if (exported == null ||
      (typeof exported.fetch !== 'function' && typeof exported.scheduled !== 'function')) {
    throw new TypeError('the module\'s default export has no fetch(request, env, ctx) method ' +
                        '(nor scheduled(event, env, ctx))');
  }
  moduleHandler = exported;
}

// Whether a service-worker script registered a handler: fetch or scheduled.
export function hasFetchListener() {
  return fetchListeners.length > 0 || scheduledListeners.length > 0;
}
