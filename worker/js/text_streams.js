// TextEncoderStream and TextDecoderStream (https://encoding.spec.whatwg.org/#interface-mixin-
// generictransformstream): a TransformStream around the TextEncoder/TextDecoder byte work.
import { TextDecoder } from './encoding.js';
import { native } from './native.js';
import { streamClasses } from './streams.js';

const kTransform = Symbol('transform');
const kDecoder = Symbol('decoder');
const kReplacement = new Uint8Array([0xEF, 0xBF, 0xBD]);  // U+FFFD in UTF-8

function isHighSurrogate(code) {
  return code >= 0xD800 && code <= 0xDBFF;
}

function transformOf(self, className) {
  if (self == null || self[kTransform] === undefined) {
    throw new TypeError(`Illegal invocation: not a ${className}`);
  }
  return self[kTransform];
}

export class TextEncoderStream {
  constructor() {
    // A high surrogate that ended the previous chunk waits for its low half in the next.
    let pending = '';
    this[kTransform] = new (streamClasses().TransformStream)({
      transform(chunk, controller) {
        let text = pending + String(chunk);
        pending = '';
        if (text.length > 0 && isHighSurrogate(text.charCodeAt(text.length - 1))) {
          pending = text.slice(-1);
          text = text.slice(0, -1);
        }
        // encodeUtf8 replaces any lone surrogate left inside with U+FFFD, as the spec does.
        if (text.length > 0) controller.enqueue(native.encodeUtf8(text));
      },
      flush(controller) {
        if (pending !== '') controller.enqueue(kReplacement.slice());
      },
    });
  }
  get encoding() {
    transformOf(this, 'TextEncoderStream');
    return 'utf-8';
  }
  get readable() {
    return transformOf(this, 'TextEncoderStream').readable;
  }
  get writable() {
    return transformOf(this, 'TextEncoderStream').writable;
  }
  get [Symbol.toStringTag]() {
    return 'TextEncoderStream';
  }
}

export class TextDecoderStream {
  constructor(label = 'utf-8', options = {}) {
    const decoder = new TextDecoder(label, options);  // RangeError for an unknown label
    this[kDecoder] = decoder;
    this[kTransform] = new (streamClasses().TransformStream)({
      transform(chunk, controller) {
        // decode() throws TypeError for a chunk that isn't a BufferSource, and for malformed
        // input when fatal; either error errors both sides of the stream.
        const text = decoder.decode(chunk, { stream: true });
        if (text.length > 0) controller.enqueue(text);
      },
      flush(controller) {
        const text = decoder.decode();
        if (text.length > 0) controller.enqueue(text);
      },
    });
  }
  get encoding() {
    transformOf(this, 'TextDecoderStream');
    return this[kDecoder].encoding;
  }
  get fatal() {
    transformOf(this, 'TextDecoderStream');
    return this[kDecoder].fatal;
  }
  get ignoreBOM() {
    transformOf(this, 'TextDecoderStream');
    return this[kDecoder].ignoreBOM;
  }
  get readable() {
    return transformOf(this, 'TextDecoderStream').readable;
  }
  get writable() {
    return transformOf(this, 'TextDecoderStream').writable;
  }
  get [Symbol.toStringTag]() {
    return 'TextDecoderStream';
  }
}
