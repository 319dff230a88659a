// The body half of Request and Response (https://fetch.spec.whatwg.org/#body-mixin): what a
// body may be made from, the one-shot readers, clone's tee, and what the host is handed.
//
// A body is kept in the form it was made from until someone needs another: `this[kBody]` is
// null, a string, an ArrayBuffer (owned by the body), a ChunkedBody (still arriving: a request's
// or a fetch response's, see body_stream.js) or a ReadableStream. Reading any but a stream never
// builds one (nor loads the streams ponyfill); the `body` getter builds one on first use and
// keeps it, and from then on the stream is the body. `kBodyUsed` records a one-shot read of a
// non-stream body; a stream body is used once its stream is disturbed (the spec's definition).
import { Blob, blobBytes, blobFromBytes } from './blob.js';
import { ChunkedBody } from './body_stream.js';
import { FormData, mimeEssence, parseMultipartFormData, parseUrlencodedFormData,
         serializeMultipart } from './form_data.js';
import { native } from './native.js';
import { isDisturbed, isReadableStream, readAllBytes, streamOfBytes } from './streams.js';
import { isURLSearchParams } from './url.js';

export const kBody = Symbol('body');
export const kBodyUsed = Symbol('bodyUsed');

function copyOf(view) {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice();
}

// Fetch's "extract a body": { bytes, stream, type } where at most one of bytes (a string or an
// ArrayBuffer the body owns) and stream is non-null, and type is the Content-Type to default to.
export function extractBody(body) {
  if (body == null) return { bytes: null, stream: null, type: null };
  if (typeof body === 'string') {
    return { bytes: body, stream: null, type: 'text/plain;charset=UTF-8' };
  }
  if (body instanceof ArrayBuffer) return { bytes: body.slice(0), stream: null, type: null };
  if (ArrayBuffer.isView(body)) return { bytes: copyOf(body).buffer, stream: null, type: null };
  if (body instanceof Blob) {
    return { bytes: blobBytes(body).slice().buffer, stream: null, type: body.type || null };
  }
  if (body instanceof FormData) {
    const { bytes, type } = serializeMultipart(body);
    return { bytes: bytes.buffer, stream: null, type };
  }
  if (isReadableStream(body)) {
    if (body.locked || isDisturbed(body)) {
      throw new TypeError('The body stream is locked or has already been read');
    }
    return { bytes: null, stream: body, type: null };
  }
  if (isURLSearchParams(body)) {
    return { bytes: String(body), stream: null,
             type: 'application/x-www-form-urlencoded;charset=UTF-8' };
  }
  return { bytes: String(body), stream: null, type: 'text/plain;charset=UTF-8' };
}

// A null body is never used: reading it just gives nothing, as often as asked.
function isUsed(obj) {
  const body = obj[kBody];
  if (body === null || body === undefined) return false;
  return obj[kBodyUsed] || (isReadableStream(body) && isDisturbed(body));
}

// Takes the body for a one-shot read (or to move it into another Request): TypeError when it
// was already read or a reader holds its stream. Leaves the object used.
export function takeBody(obj) {
  if (isUsed(obj)) throw new TypeError('Body has already been used');
  const body = obj[kBody];
  if (isReadableStream(body) && body.locked) {
    throw new TypeError('Body is locked: a reader holds its stream');
  }
  obj[kBodyUsed] = body !== null && body !== undefined;
  return body ?? null;
}

// The streams the body getter made from bytes, with those bytes. Passing a body on as a stream
// (`new Response(response.body, response)`) is common; while such a stream is untouched, whoever
// takes it may take its bytes instead of reading it chunk by chunk.
const streamBytes = new WeakMap();

// The bytes behind `stream` (a Uint8Array over a whole buffer) if the body getter made it and
// nobody has locked or read it, else null. Leaves the stream as reading it whole would: locked,
// disturbed and closed.
function takeStreamBytes(stream) {
  const bytes = streamBytes.get(stream);
  if (bytes === undefined || stream.locked || isDisturbed(stream)) return null;
  streamBytes.delete(stream);
  stream.getReader().cancel();
  return bytes;
}

// The bytes of a taken body as a Uint8Array nobody else holds.
async function bytesOf(body) {
  if (body === null) return new Uint8Array(0);
  if (typeof body === 'string') return native.encodeUtf8(body);
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (body instanceof ChunkedBody) return body.readAll();
  return takeStreamBytes(body) ?? readAllBytes(body);
}

function bufferOf(bytes) {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ?
         bytes.buffer : bytes.slice().buffer;
}

function contentTypeOf(obj) {
  return obj.headers.get('content-type');
}

// A string body reads back as itself unless UTF-8 encoding and decoding would change it: a
// leading BOM is dropped and lone surrogates become U+FFFD.
function textOfString(text) {
  if (/[\uD800-\uDFFF]/.test(text)) return native.utf8Text(native.encodeUtf8(text));
  return text.charCodeAt(0) === 0xFEFF ? text.slice(1) : text;
}

const BodyMixin = {
  get body() {
    const body = this[kBody];
    if (body === null || body === undefined || isReadableStream(body)) return body ?? null;
    let stream;
    if (this[kBodyUsed]) {
      // Read whole already: the stream it would have been is closed, locked and disturbed.
      stream = streamOfBytes(new Uint8Array(0));
      stream.getReader().read();
    } else if (body instanceof ChunkedBody) {
      stream = body.toStream();
    } else {
      const bytes = typeof body === 'string' ? native.encodeUtf8(body) : new Uint8Array(body);
      stream = streamOfBytes(bytes);
      streamBytes.set(stream, bytes);
    }
    this[kBody] = stream;
    return stream;
  },
  get bodyUsed() {
    return isUsed(this);
  },
  async arrayBuffer() {
    return bufferOf(await bytesOf(takeBody(this)));
  },
  async bytes() {
    return bytesOf(takeBody(this));
  },
  async text() {
    const body = takeBody(this);
    if (typeof body === 'string') return textOfString(body);
    if (body instanceof ChunkedBody) return body.readText();
    return native.utf8Text(await bytesOf(body));
  },
  async json() {
    return JSON.parse(await this.text());
  },
  async blob() {
    const bytes = await bytesOf(takeBody(this));
    return blobFromBytes(bytes, contentTypeOf(this) ?? '');
  },
  async formData() {
    const bytes = await bytesOf(takeBody(this));
    const type = contentTypeOf(this);
    const essence = type === null ? '' : mimeEssence(type);
    if (essence === 'multipart/form-data') return parseMultipartFormData(bytes, type);
    if (essence === 'application/x-www-form-urlencoded') return parseUrlencodedFormData(bytes);
    throw new TypeError('formData(): the Content-Type is neither multipart/form-data nor ' +
                        `application/x-www-form-urlencoded (it is ${JSON.stringify(type)})`);
  },
};

export function mixBody(cls) {
  for (const key of Object.getOwnPropertyNames(BodyMixin)) {
    Object.defineProperty(cls.prototype, key, Object.getOwnPropertyDescriptor(BodyMixin, key));
  }
}

// clone()'s body half: a stream body is teed (one branch each), bytes are shared or copied.
export function cloneBody(source, target) {
  if (isUsed(source)) throw new TypeError('Cannot clone: the body has already been used');
  let body = source[kBody];
  if (body instanceof ChunkedBody) {
    body = body.toStream();
    source[kBody] = body;
  }
  if (isReadableStream(body)) {
    if (body.locked) throw new TypeError('Cannot clone: the body stream is locked');
    const [mine, theirs] = body.tee();
    source[kBody] = mine;
    target[kBody] = theirs;
  } else {
    target[kBody] = body instanceof ArrayBuffer ? body.slice(0) : body;
  }
}

// What the host is sent for a Response: { bytes } (null, a string or an ArrayBuffer, handed over
// as they are) or { stream } (a ReadableStream of Uint8Array chunks, or a ChunkedBody). TypeError
// for a body that was already read. This is the one place that decides how a body leaves the
// isolate.
export function bodySource(response) {
  const body = response[kBody];
  if (body instanceof ChunkedBody) return { stream: takeBody(response) };
  if (isReadableStream(body)) {
    const stream = takeBody(response);
    const bytes = takeStreamBytes(stream);
    return bytes === null ? { stream } : { bytes: bytes.buffer };
  }
  if (response[kBodyUsed]) throw new TypeError('The Response body has already been used');
  return { bytes: body };
}
