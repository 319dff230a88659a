// The JavaScript half of the worker runtime: the minimal Workers API (Headers, Request,
// Response, timers, console, addEventListener) and the request dispatcher that the native host
// calls. It is evaluated once per context, before the user's script, as a function expression
// that receives the native bindings and returns the entry points the host keeps. Nothing here
// is reachable from user code except the globals it installs on purpose.
(function (native) {
  'use strict';

  const kHeaderList = Symbol('headerList');
  const kBody = Symbol('body');
  const kBodyUsed = Symbol('bodyUsed');

  function normalizeName(name) {
    const n = String(name).toLowerCase();
    if (!/^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(n)) {
      throw new TypeError(`Invalid header name: "${name}"`);
    }
    return n;
  }
  function normalizeValue(value) {
    const v = String(value).replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, '');
    if (/[\0\r\n]/.test(v)) throw new TypeError('Invalid header value');
    return v;
  }

  class Headers {
    constructor(init) {
      this[kHeaderList] = [];  // [name, value] pairs, names lower-cased, in insertion order
      if (init == null) return;
      if (init instanceof Headers) {
        for (const [n, v] of init[kHeaderList]) this[kHeaderList].push([n, v]);
      } else if (typeof init[Symbol.iterator] === 'function') {
        for (const pair of init) {
          const p = Array.from(pair);
          if (p.length !== 2) throw new TypeError('Header pair must have exactly two items');
          this.append(p[0], p[1]);
        }
      } else if (typeof init === 'object') {
        for (const key of Object.keys(init)) this.append(key, init[key]);
      } else {
        throw new TypeError('Headers init must be an object or iterable');
      }
    }
    append(name, value) {
      this[kHeaderList].push([normalizeName(name), normalizeValue(value)]);
    }
    delete(name) {
      const n = normalizeName(name);
      this[kHeaderList] = this[kHeaderList].filter(([k]) => k !== n);
    }
    get(name) {
      const n = normalizeName(name);
      const values = [];
      for (const [k, v] of this[kHeaderList]) if (k === n) values.push(v);
      return values.length ? values.join(', ') : null;
    }
    has(name) {
      const n = normalizeName(name);
      return this[kHeaderList].some(([k]) => k === n);
    }
    set(name, value) {
      const n = normalizeName(name);
      const v = normalizeValue(value);
      const list = this[kHeaderList];
      const i = list.findIndex(([k]) => k === n);
      if (i < 0) {
        list.push([n, v]);
        return;
      }
      list[i] = [n, v];
      this[kHeaderList] = list.filter(([k], j) => j <= i || k !== n);
    }
    getSetCookie() {
      return this[kHeaderList].filter(([k]) => k === 'set-cookie').map(([, v]) => v);
    }
    forEach(callback, thisArg) {
      for (const [k, v] of this) callback.call(thisArg, v, k, this);
    }
    *entries() {
      const names = [...new Set(this[kHeaderList].map(([k]) => k))].sort();
      for (const n of names) {
        if (n === 'set-cookie') {
          for (const v of this.getSetCookie()) yield [n, v];
        } else {
          yield [n, this.get(n)];
        }
      }
    }
    *keys() {
      for (const [k] of this.entries()) yield k;
    }
    *values() {
      for (const [, v] of this.entries()) yield v;
    }
    [Symbol.iterator]() {
      return this.entries();
    }
    get [Symbol.toStringTag]() {
      return 'Headers';
    }
  }

  // Body: a string, ArrayBuffer, typed array, DataView, URLSearchParams-like (toString) or null.
  function extractBody(body) {
    if (body == null) return { bytes: null, type: null };
    if (typeof body === 'string') return { bytes: body, type: 'text/plain;charset=UTF-8' };
    if (body instanceof ArrayBuffer) return { bytes: body.slice(0), type: null };
    if (ArrayBuffer.isView(body)) {
      const copy = new Uint8Array(body.byteLength);
      copy.set(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
      return { bytes: copy.buffer, type: null };
    }
    return { bytes: String(body), type: 'text/plain;charset=UTF-8' };
  }

  const BodyMixin = {
    get bodyUsed() {
      return this[kBodyUsed];
    },
    async arrayBuffer() {
      const b = consume(this);
      if (b == null) return new ArrayBuffer(0);
      return typeof b === 'string' ? native.encodeUtf8(b).buffer : b;
    },
    async text() {
      const b = consume(this);
      if (b == null) return '';
      return typeof b === 'string' ? b : native.decodeUtf8(b);
    },
    async json() {
      return JSON.parse(await this.text());
    },
  };
  function consume(obj) {
    if (obj[kBodyUsed]) throw new TypeError('Body has already been used');
    obj[kBodyUsed] = true;
    return obj[kBody];
  }
  function mixBody(cls) {
    for (const key of Object.getOwnPropertyNames(BodyMixin)) {
      Object.defineProperty(cls.prototype, key, Object.getOwnPropertyDescriptor(BodyMixin, key));
    }
  }

  const kMethods = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH'];

  class Request {
    constructor(input, init = {}) {
      const from = input instanceof Request ? input : null;
      this.url = from ? from.url : String(input);
      let method = init.method !== undefined ? String(init.method) : from ? from.method : 'GET';
      const upper = method.toUpperCase();
      if (kMethods.includes(upper)) method = upper;
      this.method = method;
      this.headers = new Headers(init.headers !== undefined ? init.headers : from && from.headers);
      this[kBodyUsed] = false;
      if (init.body !== undefined && init.body !== null) {
        if (method === 'GET' || method === 'HEAD') {
          throw new TypeError('Request with GET/HEAD method cannot have body.');
        }
        const { bytes, type } = extractBody(init.body);
        this[kBody] = bytes;
        if (type && !this.headers.has('content-type')) this.headers.set('content-type', type);
      } else {
        this[kBody] = from ? consume(from) : null;
      }
    }
    get body() {
      return this[kBody] == null ? null : this[kBody];
    }
    clone() {
      if (this[kBodyUsed]) throw new TypeError('Cannot clone a Request whose body was used');
      const copy = new Request(this.url, { method: this.method, headers: this.headers });
      copy[kBody] = this[kBody];
      return copy;
    }
    get [Symbol.toStringTag]() {
      return 'Request';
    }
  }
  mixBody(Request);

  class Response {
    constructor(body = null, init = {}) {
      const status = init.status === undefined ? 200 : Number(init.status);
      if (!Number.isInteger(status) || status < 200 || status > 599) {
        throw new RangeError(`Response status must be an integer from 200 to 599, got ${init.status}`);
      }
      this.status = status;
      this.statusText = init.statusText === undefined ? '' : String(init.statusText);
      this.headers = new Headers(init.headers);
      const { bytes, type } = extractBody(body);
      if (bytes != null && (status === 204 || status === 205 || status === 304)) {
        throw new TypeError(`Response with status ${status} cannot have a body`);
      }
      this[kBody] = bytes;
      this[kBodyUsed] = false;
      if (type && !this.headers.has('content-type')) this.headers.set('content-type', type);
    }
    get ok() {
      return this.status >= 200 && this.status < 300;
    }
    get body() {
      return this[kBody] == null ? null : this[kBody];
    }
    clone() {
      if (this[kBodyUsed]) throw new TypeError('Cannot clone a Response whose body was used');
      const copy = new Response(null, { status: this.status, statusText: this.statusText,
                                        headers: this.headers });
      copy[kBody] = this[kBody];
      return copy;
    }
    static json(data, init = {}) {
      const body = JSON.stringify(data);
      if (body === undefined) throw new TypeError('Value is not JSON serializable');
      const headers = new Headers(init.headers);
      if (!headers.has('content-type')) headers.set('content-type', 'application/json');
      return new Response(body, { ...init, headers });
    }
    get [Symbol.toStringTag]() {
      return 'Response';
    }
  }
  mixBody(Response);

  // Timers run on the worker's libevent loop. Ids are the native timer ids.
  const timerCallbacks = new Map();
  function addTimer(callback, delay, args, repeat) {
    if (typeof callback !== 'function') {
      throw new TypeError('The callback must be a function');
    }
    const ms = Math.max(0, Number(delay) || 0);
    const id = native.setTimer(ms, repeat);
    timerCallbacks.set(id, { callback, args, repeat });
    return id;
  }
  function clearTimer(id) {
    if (timerCallbacks.delete(id)) native.clearTimer(id);
  }
  function fireTimer(id) {
    const timer = timerCallbacks.get(id);
    if (!timer) return;
    if (!timer.repeat) timerCallbacks.delete(id);
    timer.callback(...timer.args);
  }

  function formatArg(value) {
    if (typeof value === 'string') return value;
    if (value instanceof Error) return value.stack || String(value);
    if (typeof value === 'object' && value !== null) {
      try {
        return JSON.stringify(value);
      } catch {
        return Object.prototype.toString.call(value);
      }
    }
    return String(value);
  }
  // console's format specifiers (https://console.spec.whatwg.org/#formatter), applied when the
  // first argument is a string: %s %d %i %f %o %O %j (JSON, as in Node) and %%.
  function formatLine(args) {
    if (typeof args[0] !== 'string' || args.length === 1) return args.map(formatArg).join(' ');
    let next = 1;
    const head = args[0].replace(/%[sdifoOj%]/g, (spec) => {
      if (spec === '%%') return '%';
      if (next >= args.length) return spec;
      const arg = args[next++];
      switch (spec) {
        case '%s':
          return typeof arg === 'string' ? arg : typeof arg === 'bigint' ? `${arg}n` :
                 typeof arg === 'symbol' ? String(arg) : formatArg(arg);
        case '%d':
        case '%i': {
          if (typeof arg === 'bigint') return `${arg}n`;
          // The spec gives %d and %i the same meaning: %parseInt%(arg, 10).
          if (typeof arg === 'symbol') return 'NaN';
          return String(parseInt(arg, 10));
        }
        case '%f':
          return typeof arg === 'symbol' ? 'NaN' : String(parseFloat(arg));
        default:  // %o %O %j
          return formatArg(arg);
      }
    });
    return [head, ...args.slice(next).map(formatArg)].join(' ');
  }
  function makeConsole() {
    const out = (level) => (...args) => native.log(level, formatLine(args));
    return {
      debug: out(0), log: out(1), info: out(1), warn: out(2), error: out(3), trace: out(0),
    };
  }

  // ---- Web-platform globals (WHATWG Encoding, HTML, WebCrypto, HR-Time) --------------------
  // Thin JavaScript shells: argument handling and object shapes live here, the byte work in
  // worker/web_bindings.cc.

  const kDecoder = Symbol('decoder');
  class TextEncoder {
    get encoding() {
      return 'utf-8';
    }
    encode(input = '') {
      return native.encodeUtf8(String(input));
    }
    encodeInto(source, destination) {
      return native.encodeUtf8Into(String(source), destination);
    }
    get [Symbol.toStringTag]() {
      return 'TextEncoder';
    }
  }

  const kUtf8Labels = ['unicode-1-1-utf-8', 'unicode11utf8', 'unicode20utf8', 'utf-8', 'utf8',
                       'x-unicode20utf8'];
  class TextDecoder {
    constructor(label = 'utf-8', options = {}) {
      const name = String(label).trim().toLowerCase();
      if (!kUtf8Labels.includes(name)) {
        throw new RangeError(`TextDecoder: the encoding "${label}" is not supported (only utf-8)`);
      }
      const opts = options == null ? {} : options;
      // Per decoder: options, the bytes of a sequence split across chunks, and whether the
      // stream's start (where a BOM may be) is behind us.
      this[kDecoder] = { fatal: Boolean(opts.fatal), ignoreBOM: Boolean(opts.ignoreBOM),
                         pending: null, started: false };
    }
    get encoding() {
      return 'utf-8';
    }
    get fatal() {
      return this[kDecoder].fatal;
    }
    get ignoreBOM() {
      return this[kDecoder].ignoreBOM;
    }
    decode(input, options = {}) {
      const state = this[kDecoder];
      const stream = options != null && Boolean(options.stream);
      let bytes = input === undefined ? new Uint8Array(0) : input;
      if (!(bytes instanceof ArrayBuffer) && !ArrayBuffer.isView(bytes)) {
        throw new TypeError('TextDecoder.decode: the input must be an ArrayBuffer or a view');
      }
      if (state.pending !== null) {
        const view = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) :
                     new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        const joined = new Uint8Array(state.pending.length + view.length);
        joined.set(state.pending);
        joined.set(view, state.pending.length);
        bytes = joined;
        state.pending = null;
      }
      let text;
      let pending;
      try {
        [text, pending] = native.decodeUtf8Chunk(bytes, state.fatal, stream);
      } catch (error) {
        state.started = false;  // a fatal error ends the stream
        throw error;
      }
      if (pending > 0) {
        const view = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) :
                     new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        state.pending = view.slice(view.length - pending);
      }
      if (!state.started && text.length > 0) {
        state.started = true;
        if (!state.ignoreBOM && text.charCodeAt(0) === 0xFEFF) text = text.slice(1);
      }
      if (!stream) {
        state.started = false;
        state.pending = null;
      }
      return text;
    }
    get [Symbol.toStringTag]() {
      return 'TextDecoder';
    }
  }

  const crypto = Object.create(Object.prototype, {
    getRandomValues: { value: function getRandomValues(array) {
      return native.getRandomValues(array);
    }, enumerable: true },
    randomUUID: { value: function randomUUID() {
      return native.randomUUID();
    }, enumerable: true },
    [Symbol.toStringTag]: { value: 'Crypto' },
  });

  // Set again by initContext() in every context made from the startup snapshot: the values
  // read while the snapshot was built belong to the build.
  let timeOrigin = native.wallClockNow();
  let monotonicOrigin = native.monotonicNow();
  const performance = Object.create(Object.prototype, {
    timeOrigin: { get() { return timeOrigin; }, enumerable: true },
    now: { value: function now() {
      return native.monotonicNow() - monotonicOrigin;
    }, enumerable: true },
    toJSON: { value: function toJSON() {
      return { timeOrigin };
    } },
    [Symbol.toStringTag]: { value: 'Performance' },
  });

  const navigator = Object.create(Object.prototype, {
    userAgent: { value: 'isolated/0.1.0', enumerable: true },
    [Symbol.toStringTag]: { value: 'Navigator' },
  });

  // HTML's "report an exception": there is no error event on the global yet, so the error is
  // logged as uncaught.
  function reportError(error) {
    if (arguments.length < 1) throw new TypeError('reportError: 1 argument required');
    native.log(3, 'Uncaught ' + formatArg(error));
  }

  const fetchListeners = [];
  let moduleHandler = null;

  function addEventListener(type, listener) {
    if (type === 'fetch' && typeof listener === 'function') fetchListeners.push(listener);
  }

  class FetchEvent {
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
    const flat = [];
    for (const [k, v] of value.headers[kHeaderList]) flat.push(k, v);
    native.respond(id, value.status, flat, value[kBody]);
  }

  function reject(id, error) {
    native.fail(id, 'script-threw', error instanceof Error ? (error.stack || String(error)) :
                                                         'Uncaught ' + formatArg(error));
  }

  // Called by the host for each request. Never throws: every outcome becomes a native call.
  function dispatch(id, method, url, flatHeaders, body) {
    let result;
    try {
      const headers = new Headers();
      for (let i = 0; i < flatHeaders.length; i += 2) {
        headers[kHeaderList].push([flatHeaders[i].toLowerCase(), flatHeaders[i + 1]]);
      }
      const request = new Request(url, { method, headers });
      request[kBody] = body;
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
  function setModuleHandler(exported) {
    if (exported == null || typeof exported.fetch !== 'function') {
      throw new TypeError('the module\'s default export has no fetch(request, env, ctx) method');
    }
    moduleHandler = exported;
  }
  function hasFetchListener() {
    return fetchListeners.length > 0;
  }

  const define = (name, value) => Object.defineProperty(globalThis, name, {
    value, writable: true, configurable: true, enumerable: false,
  });
  define('Headers', Headers);
  define('Request', Request);
  define('Response', Response);
  define('FetchEvent', FetchEvent);
  define('addEventListener', addEventListener);
  define('setTimeout', (cb, ms, ...args) => addTimer(cb, ms, args, false));
  define('setInterval', (cb, ms, ...args) => addTimer(cb, ms, args, true));
  define('clearTimeout', clearTimer);
  define('clearInterval', clearTimer);
  define('queueMicrotask', (cb) => {
    if (typeof cb !== 'function') throw new TypeError('The callback must be a function');
    Promise.resolve().then(cb);
  });
  define('console', makeConsole());
  define('self', globalThis);
  define('TextEncoder', TextEncoder);
  define('TextDecoder', TextDecoder);
  define('atob', native.atob);
  define('btoa', native.btoa);
  define('crypto', crypto);
  define('structuredClone', native.structuredClone);
  define('performance', performance);
  define('navigator', navigator);
  define('reportError', reportError);

  // Called by the host once per context, before anything else runs in it: re-initialises the
  // state that must not be shared by contexts deserialised from one snapshot.
  function initContext() {
    timeOrigin = native.wallClockNow();
    monotonicOrigin = native.monotonicNow();
  }

  return { dispatch, fireTimer, setModuleHandler, hasFetchListener, initContext };
})
