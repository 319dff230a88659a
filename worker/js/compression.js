// CompressionStream and DecompressionStream (https://compression.spec.whatwg.org/): a
// TransformStream around one zlib stream of native.compression (worker/compression_bindings.h).
// Each native push does a bounded piece of work and yields at most 64 KiB of output; between
// pieces the transformer waits for the reader, so neither a huge chunk nor a decompression bomb
// makes output pile up in memory.
import { native } from './native.js';
import { readableWantsMore, streamClasses } from './streams.js';

const kFormats = ['deflate', 'deflate-raw', 'gzip'];
const kTransform = Symbol('transform');
const kEmpty = new Uint8Array(0);

// WebIDL's CompressionFormat enum conversion: ToString (TypeError for a Symbol), then the
// value must be one of the enum's strings.
function formatArgument(args, className) {
  if (args.length < 1) {
    throw new TypeError(`Failed to construct '${className}': 1 argument required, but only 0 present.`);
  }
  const format = `${args[0]}`;
  if (!kFormats.includes(format)) {
    throw new TypeError(`Failed to construct '${className}': '${format}' is not a valid ` +
                        `CompressionFormat (one of ${kFormats.map((f) => `'${f}'`).join(', ')})`);
  }
  return format;
}

// A copy of the bytes of the BufferSource `bytes` from `offset` on.
function remainderCopy(bytes, offset) {
  if (ArrayBuffer.isView(bytes)) {
    return new Uint8Array(bytes.buffer, bytes.byteOffset + offset, bytes.byteLength - offset).slice();
  }
  return new Uint8Array(bytes, offset).slice();
}

function zlibTransform(format, compress) {
  // The zlib state (up to 384 KiB outside the V8 heap) is made at the first write or close,
  // not here: a stream that is constructed and never used costs no native memory, and a script
  // constructing streams in a loop cannot pile it up before its microtasks (which hold the
  // streams until the turn ends) let any be collected.
  let handle;  // undefined until made; null once released
  function release() {
    if (handle) native.compression.free(handle);
    handle = null;
  }
  // Feeds `bytes` to zlib piece by piece, enqueueing each output piece as it comes.
  async function feed(controller, bytes, finish) {
    if (handle === undefined) handle = native.compression.create(format, compress);
    let offset = 0;
    let owned = false;  // whether `bytes` is our own copy
    try {
      for (;;) {
        // Cancelled while waiting for the reader: the stream is errored, nothing is left to do.
        if (handle === null) return;
        // push() throws a TypeError for a chunk that is not a BufferSource and for corrupt,
        // truncated or trailing data; that error errors both sides of the stream.
        const [output, next, more] = native.compression.push(handle, bytes, offset, finish);
        offset = next;
        if (output !== undefined) {
          controller.enqueue(output);
          if (more) {
            // The spec compresses a copy of the chunk's bytes as they are when the transform
            // starts; until the reader comes back, the script could change or detach them.
            if (!owned && offset < bytes.byteLength) {
              bytes = remainderCopy(bytes, offset);
              offset = 0;
              owned = true;
            }
            // Aborted while waiting: stop here; the abort then frees the stream (cancel()).
            if (!(await readableWantsMore(controller))) return;
          }
        }
        if (!more) return;
      }
    } catch (error) {
      release();
      throw error;
    }
  }
  return new (streamClasses().TransformStream)({
    transform(chunk, controller) {
      return feed(controller, chunk, false);
    },
    async flush(controller) {
      await feed(controller, kEmpty, true);
      release();
    },
    cancel() {
      release();
    },
  });
}

function transformOf(self, className) {
  if (self == null || self[kTransform] === undefined) {
    throw new TypeError(`Illegal invocation: not a ${className}`);
  }
  return self[kTransform];
}

export class CompressionStream {
  constructor(...args) {
    this[kTransform] = zlibTransform(formatArgument(args, 'CompressionStream'), true);
  }
  get readable() {
    return transformOf(this, 'CompressionStream').readable;
  }
  get writable() {
    return transformOf(this, 'CompressionStream').writable;
  }
  get [Symbol.toStringTag]() {
    return 'CompressionStream';
  }
}

export class DecompressionStream {
  constructor(...args) {
    this[kTransform] = zlibTransform(formatArgument(args, 'DecompressionStream'), false);
  }
  get readable() {
    return transformOf(this, 'DecompressionStream').readable;
  }
  get writable() {
    return transformOf(this, 'DecompressionStream').writable;
  }
  get [Symbol.toStringTag]() {
    return 'DecompressionStream';
  }
}
