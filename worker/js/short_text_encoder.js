// The TextEncoder that bundled npm packages see (through bundle_globals.js). whatwg-url encodes
// URLs one code point at a time; for short ASCII strings, filling a Uint8Array here is cheaper
// than a call into native code, and cuts the CPU time of a URL parse by about a quarter
// (tests/js/url.test.js covers the results). Anything else goes to the runtime's encoder.
import { TextEncoder as RuntimeTextEncoder } from './encoding.js';

const kShort = 16;

export class TextEncoder extends RuntimeTextEncoder {
  encode(input = '') {
    const text = String(input);
    const length = text.length;
    if (length > kShort) return super.encode(text);
    const bytes = new Uint8Array(length);
    for (let i = 0; i < length; ++i) {
      const unit = text.charCodeAt(i);
      if (unit >= 0x80) return super.encode(text);
      bytes[i] = unit;
    }
    return bytes;
  }
}
