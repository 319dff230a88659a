// Streamed bodies: a request body that is still arriving from the supervisor, read chunk by
// chunk (each read grants the supervisor credit for one more chunk), and response bodies made
// from a stream, written chunk by chunk (each write resolves once the client has room).
// The native side is worker/body_bindings.h.
//
// `request.body` is a ReadableStream when the runtime has one (globalThis.ReadableStream) and a
// minimal stand-in with the same reader protocol (getReader().read() -> {value, done}) until
// then. Either pulls only when read (high-water mark 0), so an unread body stays in the
// supervisor and, past one window, in the client's socket.
import { native } from './native.js';

// The body of request `id`, arriving in chunks. Used once: by a reader, a whole-body read, or
// a response that streams it straight back.
export class IncomingBody {
  constructor(id) {
    this.id = id;
  }
  // Resolves with the next chunk (a Uint8Array) or null at the end.
  read() {
    return native.readBody(this.id);
  }
}

const kSource = Symbol('incomingBody');

class MinimalReader {
  constructor(stream) {
    this.stream = stream;
  }
  async read() {
    const chunk = await this.stream[kSource].read();
    return chunk === null ? { value: undefined, done: true } : { value: chunk, done: false };
  }
  releaseLock() {
    this.stream.locked = false;
  }
  async cancel() {}
}

// Until a ReadableStream global exists: just enough of one for readers and Response(stream).
class MinimalReadableStream {
  constructor(source) {
    this[kSource] = source;
    this.locked = false;
  }
  getReader() {
    if (this.locked) throw new TypeError('ReadableStream is locked to a reader');
    this.locked = true;
    return new MinimalReader(this);
  }
  get [Symbol.toStringTag]() {
    return 'ReadableStream';
  }
}

// The ReadableStream that `request.body` returns for an incoming body.
export function streamOf(incoming) {
  const Stream = globalThis.ReadableStream;
  let stream;
  if (typeof Stream === 'function') {
    stream = new Stream({
      async pull(controller) {
        const chunk = await incoming.read();
        if (chunk === null) controller.close();
        else controller.enqueue(chunk);
      },
    }, { highWaterMark: 0 });
  } else {
    stream = new MinimalReadableStream(incoming);
  }
  // A response made from this very stream reads the incoming body directly.
  Object.defineProperty(stream, kSource, { value: incoming });
  return stream;
}

export function isStream(value) {
  return value instanceof MinimalReadableStream ||
         (typeof globalThis.ReadableStream === 'function' &&
          value instanceof globalThis.ReadableStream);
}

function toBytes(chunk) {
  if (chunk instanceof Uint8Array) return chunk;
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset,
                                                        chunk.byteLength);
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  if (typeof chunk === 'string') return native.encodeUtf8(chunk);
  throw new TypeError('a response body stream must yield Uint8Array chunks');
}

// Reads a whole body stream into one ArrayBuffer.
export async function readAll(body) {
  const chunks = [];
  let length = 0;
  if (body[kSource] !== undefined) {
    const incoming = body[kSource];
    for (let chunk = await incoming.read(); chunk !== null; chunk = await incoming.read()) {
      chunks.push(chunk);
      length += chunk.byteLength;
    }
  } else {
    const reader = body.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const bytes = toBytes(value);
      chunks.push(bytes);
      length += bytes.byteLength;
    }
  }
  const all = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return all.buffer;
}

// Sends the answer to request `id` with a streamed body: status and headers at once, then each
// chunk as the client takes it. A stream that fails midway truncates the answer (the client's
// connection is closed) rather than completing it falsely.
export async function sendStreamed(id, status, flatHeaders, body) {
  if (!native.startResponse(id, status, flatHeaders)) return;
  try {
    const incoming = body[kSource];
    if (incoming !== undefined) {
      for (let chunk = await incoming.read(); chunk !== null; chunk = await incoming.read()) {
        await native.writeBody(id, chunk);
      }
    } else {
      const reader = body.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        await native.writeBody(id, toBytes(value));
      }
    }
    native.endBody(id, false);
  } catch (error) {
    native.log(3, 'the response body stream failed: ' +
                  (error instanceof Error ? error.stack || String(error) : String(error)));
    native.endBody(id, true);
  }
}
