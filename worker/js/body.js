// The body half of Request and Response (https://fetch.spec.whatwg.org/#body-mixin): what a
// body may be made from, and the one-shot readers.
import { isStream, readAll } from './body_stream.js';
import { native } from './native.js';

export const kBody = Symbol('body');
export const kBodyUsed = Symbol('bodyUsed');

// Body: a string, ArrayBuffer, typed array, DataView, URLSearchParams-like (toString), a
// ReadableStream (streamed, see body_stream.js) or null.
export function extractBody(body) {
  if (body == null) return { bytes: null, type: null };
  if (isStream(body)) return { bytes: body, type: null };
  if (typeof body === 'string') return { bytes: body, type: 'text/plain;charset=UTF-8' };
  if (body instanceof ArrayBuffer) return { bytes: body.slice(0), type: null };
  if (ArrayBuffer.isView(body)) {
    const copy = new Uint8Array(body.byteLength);
    copy.set(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
    return { bytes: copy.buffer, type: null };
  }
  return { bytes: String(body), type: 'text/plain;charset=UTF-8' };
}

export function consume(obj) {
  if (obj[kBodyUsed]) throw new TypeError('Body has already been used');
  obj[kBodyUsed] = true;
  return obj[kBody];
}

const BodyMixin = {
  get bodyUsed() {
    return this[kBodyUsed];
  },
  async arrayBuffer() {
    const b = consume(this);
    if (b == null) return new ArrayBuffer(0);
    if (isStream(b)) return readAll(b);
    return typeof b === 'string' ? native.encodeUtf8(b).buffer : b;
  },
  async text() {
    const b = consume(this);
    if (b == null) return '';
    if (isStream(b)) return native.decodeUtf8(await readAll(b));
    return typeof b === 'string' ? b : native.decodeUtf8(b);
  },
  async json() {
    return JSON.parse(await this.text());
  },
};

export function mixBody(cls) {
  for (const key of Object.getOwnPropertyNames(BodyMixin)) {
    Object.defineProperty(cls.prototype, key, Object.getOwnPropertyDescriptor(BodyMixin, key));
  }
}
