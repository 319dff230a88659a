// fetch() (https://fetch.spec.whatwg.org/#fetch-method): the request is checked and encoded
// here, then performed by the supervisor (worker/fetch_bindings.cc, ipc/protocol.h). The
// response body arrives in chunks as the script reads it; until the runtime has
// ReadableStream, `response.body` is a FetchBody: a reader-shaped source
// (getReader().read(), async iteration, cancel()) that the body mixin also reads whole.
import { AbortSignal, addAbortAlgorithm } from './abort.js';
import { kBody, kReadAll } from './body.js';
import { Headers, kHeaderList } from './headers.js';
import { native } from './native.js';
import { kResponseState, Request, Response } from './request_response.js';
import { URL } from './url.js';

const kRedirectModes = ['follow', 'manual', 'error'];

// The absolute http(s) URL to fetch, or a TypeError that says why not.
function targetUrl(text) {
  let url;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError(`fetch(): '${text}' is not a valid absolute URL`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new TypeError(`fetch(): the URL '${text}' includes credentials`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`fetch(): cannot fetch '${text}': only http: and https: URLs are ` +
                        'supported');
  }
  return url.href;
}

// A body dropped unread would keep its chunks in the worker and its transfer paused in the
// supervisor until the fetch times out: once the garbage collector finds it unreachable, the
// fetch is aborted. (The native side reports buffered chunks to V8 as external memory, so many
// unread bodies prompt that collection.) Made at the first fetch, so that a start-up snapshot
// of the runtime holds no registry.
let unreadBodiesRegistry = null;
function unreadBodies() {
  unreadBodiesRegistry ??= new FinalizationRegistry((id) => native.fetchAbort(id, undefined));
  return unreadBodiesRegistry;
}

// The body of a fetched response, read from the supervisor one chunk at a time. Each read
// credits the chunk back, so at most one window of bytes waits in the worker.
export class FetchBody {
  #id;
  #done = false;
  #locked = false;

  constructor(id) {
    this.#id = id;
    unreadBodies().register(this, id, this);
  }

  // The next chunk (a Uint8Array), or null at the end.
  async #read() {
    if (this.#done) return null;
    let chunk;
    try {
      chunk = await native.fetchRead(this.#id);
    } catch (error) {
      this.#finish();
      throw error;
    }
    if (chunk === null) this.#finish();
    return chunk;
  }

  #finish() {
    if (this.#done) return;
    this.#done = true;
    unreadBodies().unregister(this);
  }

  get locked() {
    return this.#locked;
  }

  getReader() {
    if (this.#locked) throw new TypeError('The body is locked to a reader');
    this.#locked = true;
    return {
      read: async () => {
        const chunk = await this.#read();
        return chunk === null ? { value: undefined, done: true } : { value: chunk, done: false };
      },
      cancel: async (reason) => this.cancel(reason),
      releaseLock: () => {
        this.#locked = false;
      },
      closed: Promise.resolve(undefined),
    };
  }

  async cancel(reason) {
    if (this.#done) return;
    native.fetchAbort(this.#id, reason);
    this.#finish();
  }

  async *[Symbol.asyncIterator]() {
    const reader = this.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        yield value;
      }
    } finally {
      reader.releaseLock();
    }
  }

  // The whole body as one ArrayBuffer (the body mixin's arrayBuffer(), text(), json()).
  async [kReadAll]() {
    if (this.#locked) throw new TypeError('The body is locked to a reader');
    this.#locked = true;
    const chunks = [];
    let total = 0;
    for (;;) {
      const chunk = await this.#read();
      if (chunk === null) break;
      chunks.push(chunk);
      total += chunk.byteLength;
    }
    const whole = new Uint8Array(total);
    let offset = 0;
    for (const chunk of chunks) {
      whole.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return whole.buffer;
  }

  get [Symbol.toStringTag]() {
    return 'FetchBody';
  }
}

function buildResponse(id, requestUrl, head) {
  const [status, statusText, flatHeaders, url, redirected] = head;
  const headers = new Headers();
  for (let i = 0; i < flatHeaders.length; i += 2) {
    headers[kHeaderList].push([flatHeaders[i].toLowerCase(), flatHeaders[i + 1]]);
  }
  const response = new Response(null, { headers, statusText });
  // The constructor only admits 200-599; a server's status is taken as it is.
  response.status = status;
  response[kBody] = new FetchBody(id);
  // The supervisor reports the final URL and whether there were redirects, not every hop.
  response[kResponseState] = { type: 'basic', urlList: redirected ? [requestUrl, url] : [url] };
  return response;
}

export function fetch(input, init = undefined) {
  return new Promise((resolve, reject) => {
    if (arguments.length < 1) throw new TypeError('fetch: 1 argument required');
    const options = init == null ? {} : init;
    const request = new Request(input, options);
    const redirect = String(options.redirect ?? request.redirect ?? 'follow');
    if (!kRedirectModes.includes(redirect)) {
      throw new TypeError(`fetch(): redirect must be one of ${kRedirectModes.join(', ')}, ` +
                          `got '${redirect}'`);
    }
    const signal = options.signal ?? request.signal ?? null;
    if (signal !== null && !(signal instanceof AbortSignal)) {
      throw new TypeError('fetch(): signal must be an AbortSignal');
    }
    const url = targetUrl(request.url);
    if (signal !== null && signal.aborted) throw signal.reason;
    const flat = [];
    for (const [name, value] of request.headers[kHeaderList]) flat.push(name, value);
    const body = request[kBody];
    if (body != null && typeof body[kReadAll] === 'function') {
      throw new TypeError('fetch(): a streamed body cannot be sent yet; read it first');
    }
    const [id, head] = native.fetchStart(request.method, url, flat, body, redirect);
    // Pending reads of the fetch reject with the signal's reason; a fetch already finished
    // ignores the abort.
    if (signal !== null) addAbortAlgorithm(signal, () => native.fetchAbort(id, signal.reason));
    head.then((value) => resolve(buildResponse(id, url, value)), reject);
  });
}
