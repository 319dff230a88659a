// TextEncoder and TextDecoder (https://encoding.spec.whatwg.org/): argument handling and object
// shapes here, the byte work in worker/text_codec.cc (UTF-8) and worker/legacy_codec.cc (the
// legacy encodings, through ICU). The standard's label table comes from npm's whatwg-encoding
// (its labels-to-names.json only, loaded the first time a label is not a UTF-8 one).
import { lazyModule } from './lazy_module.js';
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

const labelTable = lazyModule(() => require('whatwg-encoding/lib/labels-to-names.json'));
// Labels of encodings the table leaves out (its iconv-lite-based package cannot decode them).
const kMoreLabels = {
  'csiso2022jp': 'ISO-2022-JP', 'iso-2022-jp': 'ISO-2022-JP',
  'csiso88598i': 'ISO-8859-8-I', 'iso-8859-8-i': 'ISO-8859-8-I', 'logical': 'ISO-8859-8-I',
  'x-mac-cyrillic': 'x-mac-cyrillic', 'x-mac-ukrainian': 'x-mac-cyrillic',
  'csiso2022kr': 'replacement', 'hz-gb-2312': 'replacement', 'iso-2022-cn': 'replacement',
  'iso-2022-cn-ext': 'replacement', 'iso-2022-kr': 'replacement', 'replacement': 'replacement',
};
// ICU's converter for each encoding whose ICU name differs from the standard's: the ones whose
// mappings match the standard's indexes most closely.
const kIcuNames = {
  'ISO-8859-8-I': 'ISO-8859-8', 'Shift_JIS': 'windows-31j', 'EUC-KR': 'windows-949',
  'Big5': 'Big5-HKSCS', 'GBK': 'windows-936',
};
const kBomEncodings = new Set(['UTF-8', 'UTF-16LE', 'UTF-16BE']);

// The standard's "get an encoding": its name, or null.
function encodingForLabel(label) {
  const key = String(label).trim().toLowerCase();
  if (kUtf8Labels.includes(key)) return 'UTF-8';
  const table = labelTable();
  if (Object.prototype.hasOwnProperty.call(table, key)) return table[key];
  return Object.prototype.hasOwnProperty.call(kMoreLabels, key) ? kMoreLabels[key] : null;
}

// x-user-defined: ASCII as is, every other byte to U+F780 + (byte - 0x80).
function decodeUserDefined(bytes) {
  let text = '';
  for (let i = 0; i < bytes.length; i += 8192) {
    const part = bytes.subarray(i, i + 8192);
    text += String.fromCharCode(...Array.from(part, (b) => (b < 0x80 ? b : 0xF700 + b)));
  }
  return text;
}

function viewOf(bytes) {
  return bytes instanceof ArrayBuffer ? new Uint8Array(bytes) :
         new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export class TextDecoder {
  constructor(label = 'utf-8', options = {}) {
    const encoding = encodingForLabel(label);
    if (encoding === null || encoding === 'replacement') {
      throw new RangeError(`TextDecoder: "${label}" is not the label of an encoding TextDecoder ` +
                           'supports');
    }
    const opts = options == null ? {} : options;
    // Per decoder: its encoding, options, the bytes of a sequence split across chunks, and
    // whether the stream's start (where a BOM may be) is behind us.
    this[kDecoder] = { encoding, icuName: kIcuNames[encoding] ?? encoding,
                       fatal: Boolean(opts.fatal), ignoreBOM: Boolean(opts.ignoreBOM),
                       pending: null, started: false };
  }
  get encoding() {
    return this[kDecoder].encoding.toLowerCase();
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
      if (state.encoding === 'UTF-8') {
        [text, pending] = native.decodeUtf8Chunk(bytes, state.fatal, stream);
      } else if (state.encoding === 'x-user-defined') {
        [text, pending] = [decodeUserDefined(viewOf(bytes)), 0];
      } else {
        [text, pending] = native.decodeLegacyChunk(state.icuName, bytes, state.fatal, stream);
      }
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
      if (!state.ignoreBOM && kBomEncodings.has(state.encoding) && text.charCodeAt(0) === 0xFEFF) {
        text = text.slice(1);
      }
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
