// The script's handlers, in both syntaxes (an ES module's default export, or service-worker
// `addEventListener('fetch' | 'scheduled')`), and dispatch: the host's entry points for each
// request and each scheduled (cron) event.
import { bodySource, kBody } from './body.js';
import { IncomingBody, sendStreamed } from './body_stream.js';
import { formatArg } from './console.js';
import { Headers, kHeaderList } from './headers.js';
import { currentEnv } from './env.js';
import { ExecutionContext } from './execution_context.js';
import { native } from './native.js';
import { Request, Response } from './request_response.js';
import { dispatchScheduledTo } from './scheduled.js';

const fetchListeners = [];
const scheduledListeners = [];
let moduleHandler = null;

export function addEventListener(type, listener) {
  if (typeof listener !== 'function') return;
  if (type === 'fetch') fetchListeners.push(listener);
  if (type === 'scheduled') scheduledListeners.push(listener);
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

function toResponse(id, value) {
  if (!(value instanceof Response)) {
    native.fail(id, 'bad-response',
                `the handler returned ${value === null ? 'null' : typeof value}, not a Response`);
    return;
  }
  if (value.type === 'error') {
    native.fail(id, 'bad-response', 'the handler returned Response.error(), a network error');
    return;
  }
  const flat = [];
  for (const [k, v] of value.headers[kHeaderList]) flat.push(k, v);
  let source;
  try {
    source = bodySource(value);
  } catch (error) {
    reject(id, error);
    return;
  }
  if (source.stream === undefined) {
    // The fast path: a string or bytes body goes to the host as it is.
    native.respond(id, value.status, flat, source.bytes);
    return;
  }
  // A stream body goes out chunk by chunk, as the client takes it.
  sendStreamed(id, value.status, flat, source.stream).catch((error) => reject(id, error));
}

function reject(id, error) {
  native.fail(id, 'script-threw', error instanceof Error ? (error.stack || String(error)) :
                                                       'Uncaught ' + formatArg(error));
}

// Called by the host for each request. Never throws: every outcome becomes a native call.
// `body` is the whole body (an ArrayBuffer) or null; with `bodyFollows` it is still arriving.
export function dispatch(id, method, url, flatHeaders, body, bodyFollows) {
  let result;
  try {
    const headers = new Headers();
    for (let i = 0; i < flatHeaders.length; i += 2) {
      headers[kHeaderList].push([flatHeaders[i].toLowerCase(), flatHeaders[i + 1]]);
    }
    const request = new Request(url, { method, headers });
    request[kBody] = bodyFollows ? new IncomingBody(id) : body;
    const ctx = new ExecutionContext(id);
    if (moduleHandler !== null) {
      if (typeof moduleHandler.fetch !== 'function') {
        native.fail(id, 'no-response', 'the module\'s default export has no fetch() method');
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
        native.fail(id, 'no-response', 'no fetch listener called respondWith()');
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
