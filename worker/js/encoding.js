// TextEncoder and TextDecoder (https://encoding.spec.whatwg.org/): argument handling and object
// shapes here, the byte work in worker/text_codec.cc.
import { native } from './native.js';

const kDecoder = Symbol('decoder');

export class TextEncoder {
  get encoding() {
    return 'utf-8';
  }
  encode(input = '') {
    return native.encodeUtf8(String(input));
  }
  encodeInto(source, destination) {
    return native.encodeUtf8Into(String(source), destination);
  }
  get [Symbol.toStringTag]() {
    return 'TextEncoder';
  }
}

const kUtf8Labels = ['unicode-1-1-utf-8', 'unicode11utf8', 'unicode20utf8', 'utf-8', 'utf8',
                     'x-unicode20utf8'];

function viewOf(bytes) {
  return bytes instanceof ArrayBuffer ? new Uint8Array(bytes) :
         new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export class TextDecoder {
  constructor(label = 'utf-8', options = {}) {
    const name = String(label).trim().toLowerCase();
    if (!kUtf8Labels.includes(name)) {
      throw new RangeError(`TextDecoder: the encoding "${label}" is not supported (only utf-8)`);
    }
    const opts = options == null ? {} : options;
    // Per decoder: options, the bytes of a sequence split across chunks, and whether the
    // stream's start (where a BOM may be) is behind us.
    this[kDecoder] = { fatal: Boolean(opts.fatal), ignoreBOM: Boolean(opts.ignoreBOM),
                       pending: null, started: false };
  }
  get encoding() {
    return 'utf-8';
  }
  get fatal() {
    return this[kDecoder].fatal;
  }
  get ignoreBOM() {
    return this[kDecoder].ignoreBOM;
  }
  decode(input, options = {}) {
    const state = this[kDecoder];
    const stream = options != null && Boolean(options.stream);
    let bytes = input === undefined ? new Uint8Array(0) : input;
    if (!(bytes instanceof ArrayBuffer) && !ArrayBuffer.isView(bytes)) {
      throw new TypeError('TextDecoder.decode: the input must be an ArrayBuffer or a view');
    }
    if (state.pending !== null) {
      const view = viewOf(bytes);
      const joined = new Uint8Array(state.pending.length + view.length);
      joined.set(state.pending);
      joined.set(view, state.pending.length);
      bytes = joined;
      state.pending = null;
    }
    let text;
    let pending;
    try {
      [text, pending] = native.decodeUtf8Chunk(bytes, state.fatal, stream);
    } catch (error) {
      state.started = false;  // a fatal error ends the stream
      throw error;
    }
    if (pending > 0) {
      const view = viewOf(bytes);
      state.pending = view.slice(view.length - pending);
    }
    if (!state.started && text.length > 0) {
      state.started = true;
      if (!state.ignoreBOM && text.charCodeAt(0) === 0xFEFF) text = text.slice(1);
    }
    if (!stream) {
      state.started = false;
      state.pending = null;
    }
    return text;
  }
  get [Symbol.toStringTag]() {
    return 'TextDecoder';
  }
}
