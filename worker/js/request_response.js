// Fetch's Request and Response classes (https://fetch.spec.whatwg.org/#request-class).
import { AbortSignal, abortSignal, newAbortSignal } from './abort.js';
import { parseAbsoluteUrl } from './absolute_url.js';
import { cloneBody, extractBody, kBody, kBodyUsed, mixBody, takeBody } from './body.js';
import { DOMException } from './dom_exception.js';
import { Headers, kHeaderList, setDefaultHeader } from './headers.js';
import { checkNoCorsMethod, kDefaultRequestOptions, referrerOf,
         requestOptions } from './request_init.js';
import { urlClasses } from './url.js';

const kMethods = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH'];
const kRedirectStatuses = [301, 302, 303, 307, 308];

// The parsed form of a URL given to Request or Response.redirect. A Worker has no base URL, so
// relative URLs are invalid, as the spec's "parse with this's relevant settings object's API
// base URL" makes them in a context without one.
function parseUrl(input, what) {
  const text = String(input);
  const url = parseAbsoluteUrl(text);
  if (url === null) {
    throw new TypeError(`${what}: invalid URL ${JSON.stringify(text)} (it must be absolute, ` +
                        'such as "https://example.com/path")');
  }
  return url;
}

// A Response's type and URL list (https://fetch.spec.whatwg.org/#concept-response): fetch()
// sets them on the responses it makes; `url` is the list's last entry, `redirected` whether it
// has more than one.
// The state is replaced, never changed in place: every Response starts with the one shared
// default state.
export const kResponseState = Symbol('responseState');
const kDefaultResponseState = Object.freeze({ type: 'default', urlList: Object.freeze([]) });

// A Request's signal is made on first use: most Requests (every incoming one, each fetch()'s)
// never have theirs read. Until then the Request records what it follows: null (nothing; it
// never aborts), an AbortSignal (its init's, or its input Request's), or kFromHost (an incoming
// request, aborted by the host through abortIncomingRequest).
const kOptions = Symbol('options');
const kSignal = Symbol('signal');
const kSignalSource = Symbol('signalSource');
const kFromHost = Symbol('fromHost');

// The signal a Request derived from `request` must follow: following it is the same as
// following a signal made to follow it (the spec's dependent signals follow the sources of a
// dependent signal, not the signal itself), so none is made unless it has to be.
export function followedSignal(request) {
  const made = request[kSignal];
  if (made !== undefined) return made;
  const source = request[kSignalSource];
  return source === kFromHost ? request.signal : source;
}

// An incoming request's headers stay the host's flat [name, value, ...] list until the Request's
// `headers` is first read (most handlers never read them); then they become a Headers.
const kHeaders = Symbol('headers');

function headersFromHost(flat) {
  const headers = new Headers();
  const list = headers[kHeaderList];
  for (let i = 0; i < flat.length; i += 2) list.push([flat[i].toLowerCase(), flat[i + 1]]);
  return headers;
}

// incomingRequest()'s arguments for the Request constructor, which it recognises by this `init`.
const kIncoming = Object.freeze({});
let incomingMethod = '';
let incomingHeaders = null;
let incomingBody = null;

// The Request of an incoming request: what `new Request(url, { method, headers })` makes, with
// `body` as its body (null, an ArrayBuffer or an IncomingBody) and its signal aborted by the host
// (abortIncomingRequest). The shortcuts: the headers wait for first use, the options are the
// defaults (what requestOptions() gives for an init of only method and headers), and a method
// already in normalised form is not upper-cased again.
export function incomingRequest(url, method, flatHeaders, body) {
  incomingMethod = method;
  incomingHeaders = flatHeaders;
  incomingBody = body;
  try {
    return new Request(url, kIncoming);
  } finally {
    incomingHeaders = null;
    incomingBody = null;
  }
}

export class Request {
  constructor(input, init = {}) {
    if (init === kIncoming) {
      const url = parseUrl(input, 'Request');
      if (url.hasCredentials) {
        throw new TypeError(`Request: the URL ${JSON.stringify(String(input))} includes ` +
                            'credentials (user:password@), which Request does not allow');
      }
      // The same properties in the same order as below, so both kinds share one shape.
      this.url = url.href;
      let method = incomingMethod;
      if (!kMethods.includes(method)) {
        const upper = method.toUpperCase();
        if (kMethods.includes(upper)) method = upper;
      }
      this.method = method;
      this[kOptions] = kDefaultRequestOptions;
      this[kSignal] = undefined;
      this[kSignalSource] = kFromHost;
      this[kHeaders] = incomingHeaders;
      this[kBodyUsed] = false;
      this[kBody] = incomingBody;
      return;
    }
    if (init === null) init = {};
    const from = input instanceof Request ? input : null;
    if (from) {
      this.url = from.url;
    } else {
      const url = parseUrl(input, 'Request');
      if (url.hasCredentials) {
        throw new TypeError(`Request: the URL ${JSON.stringify(String(input))} includes ` +
                            'credentials (user:password@), which Request does not allow');
      }
      this.url = url.href;
    }
    const initSignal = init.signal;
    const hasCore = init.method !== undefined || init.headers !== undefined ||
                    init.body !== undefined || initSignal !== undefined;
    const options = requestOptions(from ? from[kOptions] : kDefaultRequestOptions, init,
                                   from !== null, hasCore);
    let method = init.method !== undefined ? String(init.method) : from ? from.method : 'GET';
    const upper = method.toUpperCase();
    if (kMethods.includes(upper)) method = upper;
    checkNoCorsMethod(options, method);
    let source;
    if (initSignal !== undefined) {
      if (initSignal !== null && !(initSignal instanceof AbortSignal)) {
        throw new TypeError('Request: signal must be an AbortSignal or null');
      }
      source = initSignal;
    } else {
      source = from ? followedSignal(from) : null;
    }
    this.method = method;
    this[kOptions] = options;
    this[kSignal] = undefined;
    this[kSignalSource] = source;
    this[kHeaders] =
      new Headers(init.headers !== undefined ? init.headers : from && from.headers);
    this[kBodyUsed] = false;
    if (init.body !== undefined && init.body !== null) {
      if (method === 'GET' || method === 'HEAD') {
        throw new TypeError('Request with GET/HEAD method cannot have body.');
      }
      const { bytes, stream, type } = extractBody(init.body);
      if (stream !== null && options.keepalive) {
        throw new TypeError('Request: a keepalive request cannot have a ReadableStream body');
      }
      this[kBody] = stream ?? bytes;
      if (type) setDefaultHeader(this.headers, 'content-type', type);
    } else if (from && from[kBody] != null) {
      if (method === 'GET' || method === 'HEAD') {
        throw new TypeError('Request with GET/HEAD method cannot have body.');
      }
      // The body moves to the new Request; the old one is left used.
      this[kBody] = takeBody(from);
    } else {
      this[kBody] = null;
    }
  }
  get headers() {
    const headers = this[kHeaders];
    if (headers instanceof Headers) return headers;
    return (this[kHeaders] = headersFromHost(headers));
  }
  get signal() {
    let signal = this[kSignal];
    if (signal === undefined) {
      const source = this[kSignalSource];
      signal = source instanceof AbortSignal ? AbortSignal.any([source]) : newAbortSignal();
      this[kSignal] = signal;
    }
    return signal;
  }
  get redirect() {
    return this[kOptions].redirect;
  }
  get mode() {
    return this[kOptions].mode;
  }
  get credentials() {
    return this[kOptions].credentials;
  }
  get cache() {
    return this[kOptions].cache;
  }
  get integrity() {
    return this[kOptions].integrity;
  }
  get keepalive() {
    return this[kOptions].keepalive;
  }
  get referrer() {
    return referrerOf(this[kOptions]);
  }
  get referrerPolicy() {
    return this[kOptions].referrerPolicy;
  }
  get destination() {
    return '';
  }
  get duplex() {
    return 'half';
  }
  get isReloadNavigation() {
    return false;
  }
  get isHistoryNavigation() {
    return false;
  }
  clone() {
    const copy = new Request(this.url, { method: this.method, headers: this.headers });
    cloneBody(this, copy);
    copy[kOptions] = this[kOptions];
    copy[kSignalSource] = followedSignal(this);
    return copy;
  }
  get [Symbol.toStringTag]() {
    return 'Request';
  }
}
mixBody(Request);

// The host cancelled the incoming `request` (its client went away, or it ran out of time): its
// signal aborts with an AbortError.
export function abortIncomingRequest(request, message) {
  abortSignal(request.signal, new DOMException(message, 'AbortError'));
}

export class Response {
  constructor(body = null, init = {}) {
    const status = init.status === undefined ? 200 : Number(init.status);
    if (!Number.isInteger(status) || status < 200 || status > 599) {
      throw new RangeError(`Response status must be an integer from 200 to 599, got ${init.status}`);
    }
    this.status = status;
    this.statusText = init.statusText === undefined ? '' : String(init.statusText);
    this.headers = new Headers(init.headers);
    const { bytes, stream, type } = extractBody(body);
    if ((bytes != null || stream != null) && (status === 204 || status === 205 || status === 304)) {
      throw new TypeError(`Response with status ${status} cannot have a body`);
    }
    this[kBody] = stream ?? bytes;
    this[kBodyUsed] = false;
    if (type) setDefaultHeader(this.headers, 'content-type', type);
    this[kResponseState] = kDefaultResponseState;
  }
  get type() {
    return this[kResponseState].type;
  }
  get url() {
    const list = this[kResponseState].urlList;
    if (list.length === 0) return '';
    const url = new (urlClasses().URL)(String(list[list.length - 1]));
    url.hash = '';
    return url.href;
  }
  get redirected() {
    return this[kResponseState].urlList.length > 1;
  }
  get ok() {
    return this.status >= 200 && this.status < 300;
  }
  clone() {
    const copy = this[kResponseState].type === 'error' ? Response.error() :
      new Response(null, { status: this.status, statusText: this.statusText,
                           headers: this.headers });
    cloneBody(this, copy);
    const state = this[kResponseState];
    copy[kResponseState] = { type: state.type, urlList: state.urlList.slice() };
    return copy;
  }
  // https://fetch.spec.whatwg.org/#dom-response-error: a network error, status 0.
  static error() {
    const response = new Response(null);
    response.status = 0;
    response[kResponseState] = { type: 'error', urlList: [] };
    return response;
  }
  // https://fetch.spec.whatwg.org/#dom-response-redirect
  static redirect(url, status = 302) {
    const href = parseUrl(url, 'Response.redirect').href;
    const code = Number(status);
    if (!kRedirectStatuses.includes(code)) {
      throw new RangeError(`Response.redirect: ${status} is not a redirect status (301, 302, ` +
                           '303, 307 or 308)');
    }
    const response = new Response(null, { status: code });
    response.headers.set('location', href);
    return response;
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
