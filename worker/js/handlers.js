// The script's handlers, in both syntaxes (an ES module's default export, or service-worker
// `addEventListener('fetch')`), and dispatch: the host's entry point for each request.
import { kBody, kBodyUsed } from './body.js';
import { IncomingBody, isStream, sendStreamed, streamOf } from './body_stream.js';
import { formatArg } from './console.js';
import { Headers, kHeaderList } from './headers.js';
import { native } from './native.js';
import { Request, Response } from './request_response.js';

const fetchListeners = [];
let moduleHandler = null;

export function addEventListener(type, listener) {
  if (type === 'fetch' && typeof listener === 'function') fetchListeners.push(listener);
}

export class FetchEvent {
  constructor(request) {
    this.type = 'fetch';
    this.request = request;
    this.response = undefined;
  }
  respondWith(response) {
    if (this.response !== undefined) throw new Error('respondWith() was already called');
    this.response = Promise.resolve(response);
  }
  waitUntil() {}
  passThroughOnException() {}
}

const env = {};
const ctx = { waitUntil() {}, passThroughOnException() {} };

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
  const body = value[kBody];
  if (isStream(body)) {
    value[kBodyUsed] = true;
    sendStreamed(id, value.status, flat, body);
    return;
  }
  native.respond(id, value.status, flat, body);
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
    request[kBody] = bodyFollows ? streamOf(new IncomingBody(id)) : body;
    if (moduleHandler !== null) {
      result = moduleHandler.fetch(request, env, ctx);
    } else {
      const event = new FetchEvent(request);
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

// Called once by the host after an ES module loads, with its default export.
export function setModuleHandler(exported) {
  if (exported == null || typeof exported.fetch !== 'function') {
    throw new TypeError('the module\'s default export has no fetch(request, env, ctx) method');
  }
  moduleHandler = exported;
}

export function hasFetchListener() {
  return fetchListeners.length > 0;
}
