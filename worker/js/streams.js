// The WHATWG Streams classes (https://streams.spec.whatwg.org/): the web-streams-polyfill
// ponyfill (npm, bundled by esbuild), which follows the spec's reference implementation, plus
// the few questions about a stream that the body mixin asks and the spec answers with internal
// slots.
//
// The ponyfill is loaded on first use, like whatwg-url (url.js explains the mechanism): its
// classes, prototypes and methods were the largest part of the heap that every context made
// from the startup snapshot deserialises, and a handler that answers with a string or bytes
// never needs a stream. Nothing else in the runtime names a ponyfill class directly: it asks
// streamClasses() when it must make a stream, and isReadableStream() when it must recognise one
// (false, without loading anything, while no stream can exist yet).
import { concatBytes } from './bytes.js';
import { DOMException } from './dom_exception.js';
import { lazyModule } from './lazy_module.js';

// The ponyfill reads globalThis.DOMException once, as its module is evaluated, to pick the class
// of the AbortErrors it makes. A script may have replaced (or deleted) that global by the time a
// stream is first used, so the runtime's class stands there while the module loads and the
// script's value is put back afterwards. A global the script made non-configurable can't be
// swapped; the ponyfill then takes what is there (its own DOMException if that is not one).
function loadPonyfill() {
  const saved = Object.getOwnPropertyDescriptor(globalThis, 'DOMException');
  let swapped = false;
  try {
    Object.defineProperty(globalThis, 'DOMException', {
      value: DOMException, writable: true, configurable: true, enumerable: false,
    });
    swapped = true;
  } catch {
    // Non-configurable: left as the script made it.
  }
  try {
    return require('web-streams-polyfill');
  } finally {
    if (swapped) {
      if (saved === undefined) delete globalThis.DOMException;
      else Object.defineProperty(globalThis, 'DOMException', saved);
    }
  }
}

// The ponyfill's module: { ReadableStream, WritableStream, TransformStream, ... }.
export const streamClasses = lazyModule(loadPonyfill);

// Whether `value` is a ReadableStream, without loading the ponyfill: none exists before it is.
export function isReadableStream(value) {
  return streamClasses.loaded() && value instanceof streamClasses().ReadableStream;
}

// The spec's [[disturbed]] slot: true once anything read from or cancelled the stream. The
// ponyfill keeps its slots as underscore properties; this is the one place that relies on it.
export function isDisturbed(stream) {
  return stream._disturbed === true;
}

// A byte stream that yields `bytes` (a Uint8Array the stream may own) in chunks of at most
// `chunkSize` bytes, then closes. Default and BYOB readers both work on it.
export function streamOfBytes(bytes, chunkSize = 65536) {
  let offset = 0;
  return new (streamClasses().ReadableStream)({
    type: 'bytes',
    pull(controller) {
      if (offset >= bytes.length) {
        controller.close();
        // A BYOB read pending at the end must be answered with zero bytes.
        if (controller.byobRequest) controller.byobRequest.respond(0);
        return;
      }
      const end = Math.min(bytes.length, offset + chunkSize);
      // enqueue() transfers its chunk's buffer, so each chunk gets a buffer of its own.
      controller.enqueue(bytes.slice(offset, end));
      offset = end;
    },
  });
}

// Reads every chunk of `stream` (each must be a Uint8Array, as for a body) into one Uint8Array;
// a stream longer than `maxBytes` is cancelled and the read fails with a RangeError.
export async function readAllBytes(stream, maxBytes = Infinity) {
  const reader = stream.getReader();
  const chunks = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!(value instanceof Uint8Array)) {
      const error = new TypeError('a body stream chunk must be a Uint8Array');
      reader.cancel(error).catch(() => {});
      throw error;
    }
    chunks.push(value);
    total += value.length;
    if (total > maxBytes) {
      const error = new RangeError(`the body stream is longer than ${maxBytes} bytes`);
      reader.cancel(error).catch(() => {});
      throw error;
    }
  }
  // Always a fresh buffer: the chunks belong to whoever enqueued them.
  return concatBytes(chunks, total);
}

// Resolves when the readable side of the TransformStream that `controller` controls wants
// another chunk (the spec's [[backpressureChangePromise]]), at once if it already does: to
// true then, or to false as soon as the writable side is being aborted (its controller's
// signal fires at abort() even while a write is in flight; the abort itself waits for that
// write). A transformer that enqueues many chunks for one input chunk awaits this between
// them, so its output waits for the reader instead of piling up in the queue, and stops when
// it resolves to false. It also resolves when the readable side is cancelled (the spec
// unblocks the writer then). Relies on the ponyfill's underscore slots, like isDisturbed().
export function readableWantsMore(controller) {
  const stream = controller._controlledTransformStream;
  if (stream === undefined) return Promise.resolve(true);
  const signal = stream._writable._writableStreamController.signal;
  if (signal.aborted) return Promise.resolve(false);
  if (stream._backpressure !== true) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onAbort = () => resolve(false);
    signal.addEventListener('abort', onAbort, { once: true });
    stream._backpressureChangePromise.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    });
  });
}
