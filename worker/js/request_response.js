// Fetch's Request and Response classes (https://fetch.spec.whatwg.org/#request-class).
import { cloneBody, extractBody, kBody, kBodyUsed, mixBody, takeBody } from './body.js';
import { Headers } from './headers.js';
import { parseAbsoluteUrl } from './absolute_url.js';
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
export const kResponseState = Symbol('responseState');

export class Request {
  constructor(input, init = {}) {
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
      const { bytes, stream, type } = extractBody(init.body);
      this[kBody] = stream ?? bytes;
      if (type && !this.headers.has('content-type')) this.headers.set('content-type', type);
    } else if (from && from[kBody] != null) {
      // The body moves to the new Request; the old one is left used.
      this[kBody] = takeBody(from);
    } else {
      this[kBody] = null;
    }
  }
  clone() {
    const copy = new Request(this.url, { method: this.method, headers: this.headers });
    cloneBody(this, copy);
    return copy;
  }
  get [Symbol.toStringTag]() {
    return 'Request';
  }
}
mixBody(Request);

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
    if (type && !this.headers.has('content-type')) this.headers.set('content-type', type);
    this[kResponseState] = { type: 'default', urlList: [] };
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
    response[kResponseState].type = 'error';
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
