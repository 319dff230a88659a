// Streamed bodies: a request body that is still arriving from the supervisor, read chunk by
// chunk (each read grants the supervisor credit for one more chunk), and response bodies made
// from a stream, written chunk by chunk (each write resolves once the client has room).
// The native side is worker/body_bindings.h; the wire rules are in ipc/protocol.h.
//
// A body still arriving in chunks (a request's from the supervisor, a fetch response's) is kept
// as a ChunkedBody until a script asks for its stream: reading it whole, or sending it on as a
// response, takes its chunks directly, so such a body never loads the streams ponyfill
// (streams.js) unless the script reads `.body`. Its stream pulls only when read (high-water mark
// 0), so a body nobody reads stays in the supervisor and, past one window, in the client's socket.
import { concatBytes } from './bytes.js';
import { native } from './native.js';
import { streamClasses } from './streams.js';

// A body arriving in chunks. Read it either through read() or through the one stream toStream()
// makes, never both: the body mixin (body.js) replaces the body with that stream when it makes
// it.
export class ChunkedBody {
  // Resolves with the next chunk (a Uint8Array) or null at the end; rejects when the transfer
  // failed.
  read() {
    throw new TypeError('ChunkedBody.read is abstract');
  }
  // The ReadableStream this body is read through from now on.
  toStream() {
    throw new TypeError('ChunkedBody.toStream is abstract');
  }
  // Every remaining chunk in one fresh Uint8Array.
  readAll() {
    return readAllChunks(this);
  }
  // The rest of the body as text (UTF-8, BOM dropped, invalid sequences as U+FFFD).
  async readText() {
    return native.utf8Text(await this.readAll());
  }
}

// The body of request `id`, arriving in chunks.
export class IncomingBody extends ChunkedBody {
  constructor(id) {
    super();
    this.id = id;
  }
  read() {
    return native.readBody(this.id);
  }
  toStream() {
    return streamOf(this);
  }
  // Whole-body reads happen natively: the chunks are collected and joined (or decoded) in the
  // host as they arrive, with no JavaScript per chunk.
  readAll() {
    return native.readBodyAll(this.id, false);
  }
  readText() {
    return native.readBodyAll(this.id, true);
  }
}

// Every remaining chunk of `body` in one fresh Uint8Array.
export async function readAllChunks(body) {
  const chunks = [];
  let total = 0;
  for (let chunk = await body.read(); chunk !== null; chunk = await body.read()) {
    chunks.push(chunk);
    total += chunk.length;
  }
  return concatBytes(chunks, total);
}

// The stream's incoming body, for a response that sends it straight back.
const kSource = Symbol('incomingBody');

// The ReadableStream a streamed request body is.
export function streamOf(incoming) {
  const stream = new (streamClasses().ReadableStream)({
    async pull(controller) {
      const chunk = await incoming.read();
      if (chunk === null) controller.close();
      else controller.enqueue(chunk);
    },
  }, { highWaterMark: 0 });
  Object.defineProperty(stream, kSource, { value: incoming });
  return stream;
}

function toBytes(chunk) {
  if (chunk instanceof Uint8Array) return chunk;
  if (ArrayBuffer.isView(chunk)) {
    return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  throw new TypeError('a response body stream must yield Uint8Array chunks');
}

// Sends the answer to request `id` with `stream` (a ReadableStream or a ChunkedBody) as its
// body. Status and headers go out with the first chunk, so a stream that fails before it yields
// anything rejects (the caller answers 500) and an empty stream is an empty body; after that
// each chunk goes out as the client takes it, and a stream that fails midway truncates the
// answer (the client's connection is closed) rather than completing it falsely.
export async function sendStreamed(id, status, headerText, stream) {
  let next;
  if (stream instanceof ChunkedBody) {
    // A chunked body passed on unread (a fetch's response returned as it is): chunk to chunk.
    next = () => stream.read();
  } else if (stream[kSource] !== undefined && !stream.locked) {
    const incoming = stream[kSource];
    // A request body sent back untouched: chunk to chunk, without the stream machinery.
    stream.getReader();  // locks it, as reading it would
    next = () => incoming.read();
  } else {
    const reader = stream.getReader();
    next = async () => {
      const { value, done } = await reader.read();
      return done ? null : toBytes(value);
    };
  }
  let chunk = await next();
  if (chunk === null) {
    native.respond(id, status, headerText, null);
    return;
  }
  if (!native.startResponse(id, status, headerText)) return;
  try {
    for (; chunk !== null; chunk = await next()) await native.writeBody(id, chunk);
    native.endBody(id, false);
  } catch (error) {
    native.log(3, 'the response body stream failed: ' +
                  (error instanceof Error ? error.stack || String(error) : String(error)));
    native.endBody(id, true);
  }
}
