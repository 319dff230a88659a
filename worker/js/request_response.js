// Fetch's Request and Response classes (https://fetch.spec.whatwg.org/#request-class).
import { consume, extractBody, kBody, kBodyUsed, mixBody } from './body.js';
import { Headers } from './headers.js';

const kMethods = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH'];

export class Request {
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

export class Response {
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
