// Streamed bodies: a request body that is still arriving from the supervisor, read chunk by
// chunk (each read grants the supervisor credit for one more chunk), and response bodies made
// from a stream, written chunk by chunk (each write resolves once the client has room).
// The native side is worker/body_bindings.h; the wire rules are in ipc/protocol.h.
//
// The request's body is a ReadableStream that pulls only when read (high-water mark 0), so a
// body nobody reads stays in the supervisor and, past one window, in the client's socket.
import { native } from './native.js';
import { ReadableStream } from './streams.js';

// The body of request `id`, arriving in chunks.
export class IncomingBody {
  constructor(id) {
    this.id = id;
  }
  // Resolves with the next chunk (a Uint8Array) or null at the end.
  read() {
    return native.readBody(this.id);
  }
}

// The stream's incoming body, for a response that sends it straight back.
const kSource = Symbol('incomingBody');

// The ReadableStream a streamed request body is.
export function streamOf(incoming) {
  const stream = new ReadableStream({
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

// Sends the answer to request `id` with `stream` as its body: status and headers at once, then
// each chunk as the client takes it. A stream that fails midway truncates the answer (the
// client's connection is closed) rather than completing it falsely.
export async function sendStreamed(id, status, flatHeaders, stream) {
  if (!native.startResponse(id, status, flatHeaders)) return;
  try {
    const incoming = stream[kSource];
    if (incoming !== undefined && !stream.locked) {
      // A request body sent back untouched: chunk to chunk, without the stream machinery.
      stream.getReader();  // locks it, as reading it would
      for (let chunk = await incoming.read(); chunk !== null; chunk = await incoming.read()) {
        await native.writeBody(id, chunk);
      }
    } else {
      const reader = stream.getReader();
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
