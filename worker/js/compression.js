// CompressionStream and DecompressionStream (https://compression.spec.whatwg.org/): gzip,
// deflate and deflate-raw, each a TransformStream whose transformer feeds a native zlib stream
// (worker/compression_bindings.cc). The zlib handle lives only in this module's closures.
import { native } from './native.js';
import { TransformStream } from './streams.js';

const kFormats = ['deflate', 'deflate-raw', 'gzip'];

function checkFormat(args) {
  if (args.length < 1) throw new TypeError('1 argument required, but only 0 present');
  const format = String(args[0]);
  if (!kFormats.includes(format)) {
    throw new TypeError(`Unsupported compression format: '${format}' ` +
                        '(expected gzip, deflate or deflate-raw)');
  }
  return format;
}

function zlibTransformStream(format, compress) {
  const handle = native.zlibCreate(format, compress);
  const run = (chunk, finish, controller) => {
    let out;
    try {
      out = native.zlibWrite(handle, chunk, finish);
    } catch (error) {
      native.zlibClose(handle);
      throw error;
    }
    if (out.byteLength > 0) controller.enqueue(out);
  };
  return new TransformStream({
    transform(chunk, controller) {
      if (!(chunk instanceof ArrayBuffer) && !ArrayBuffer.isView(chunk)) {
        native.zlibClose(handle);
        throw new TypeError('The chunk must be an ArrayBuffer or an ArrayBufferView');
      }
      run(chunk, false, controller);
    },
    flush(controller) {
      run(undefined, true, controller);
    },
    cancel() {
      native.zlibClose(handle);
    },
  });
}

export class CompressionStream {
  #stream;
  constructor(format) {
    this.#stream = zlibTransformStream(checkFormat(arguments), true);
  }
  get readable() {
    return this.#stream.readable;
  }
  get writable() {
    return this.#stream.writable;
  }
  get [Symbol.toStringTag]() {
    return 'CompressionStream';
  }
}

export class DecompressionStream {
  #stream;
  constructor(format) {
    this.#stream = zlibTransformStream(checkFormat(arguments), false);
  }
  get readable() {
    return this.#stream.readable;
  }
  get writable() {
    return this.#stream.writable;
  }
  get [Symbol.toStringTag]() {
    return 'DecompressionStream';
  }
}
