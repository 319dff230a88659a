// TextEncoder and TextDecoder against the WHATWG Encoding Standard (UTF-8 only).
import { assert, assertArrayEquals, assertEquals, assertThrows } from './lib/assert.js';

const bytes = (...b) => new Uint8Array(b);

export function encoderBasics() {
  const encoder = new TextEncoder();
  assertEquals(encoder.encoding, 'utf-8');
  assert(encoder.encode('') instanceof Uint8Array, 'encode returns a Uint8Array');
  assertEquals(encoder.encode().length, 0, 'encode() with no input');
  assertArrayEquals(encoder.encode('A\u00e9\u20ac\u{1F600}'),
                    [0x41, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80]);
  assertArrayEquals(encoder.encode(123), [0x31, 0x32, 0x33], 'non-strings are stringified');
}

export function encoderReplacesLoneSurrogates() {
  const encoder = new TextEncoder();
  assertArrayEquals(encoder.encode('\ud800'), [0xef, 0xbf, 0xbd], 'lone high surrogate');
  assertArrayEquals(encoder.encode('a\udc00b'), [0x61, 0xef, 0xbf, 0xbd, 0x62], 'lone low');
  assertArrayEquals(encoder.encode('\udc00\ud800'), [0xef, 0xbf, 0xbd, 0xef, 0xbf, 0xbd],
                    'reversed pair');
}

export function encodeIntoFitsWholeCodePoints() {
  const encoder = new TextEncoder();
  const dest = new Uint8Array(5);
  const result = encoder.encodeInto('a\u20ac\u{1F600}', dest);
  assertEquals(result.read, 2, 'read counts UTF-16 code units');
  assertEquals(result.written, 4);
  assertArrayEquals(dest, [0x61, 0xe2, 0x82, 0xac, 0]);

  const big = new Uint8Array(8);
  const all = encoder.encodeInto('a\u{1F600}', big);
  assertEquals(all.read, 3, 'a surrogate pair counts as two units read');
  assertEquals(all.written, 5);
}

export function encodeIntoRespectsViewOffset() {
  const buffer = new Uint8Array(6);
  const view = new Uint8Array(buffer.buffer, 2, 2);
  const result = new TextEncoder().encodeInto('xyz', view);
  assertEquals(result.read, 2);
  assertEquals(result.written, 2);
  assertArrayEquals(buffer, [0, 0, 0x78, 0x79, 0, 0]);
}

export function encodeIntoRejectsOtherDestinations() {
  assertThrows(() => new TextEncoder().encodeInto('a', new Uint16Array(2)), TypeError);
  assertThrows(() => new TextEncoder().encodeInto('a', []), TypeError);
}

export function decoderBasics() {
  const decoder = new TextDecoder();
  assertEquals(decoder.encoding, 'utf-8');
  assertEquals(decoder.fatal, false);
  assertEquals(decoder.ignoreBOM, false);
  assertEquals(decoder.decode(), '');
  assertEquals(decoder.decode(bytes(0x68, 0x69)), 'hi');
  assertEquals(decoder.decode(bytes(0xf0, 0x9f, 0x98, 0x80)), '\u{1F600}', 'surrogate pair');
  assertEquals(decoder.decode(bytes(0xf0, 0x9f, 0x98, 0x80)).length, 2);
  assertEquals(decoder.decode(bytes(0x61, 0x62).buffer), 'ab', 'ArrayBuffer input');
  assertEquals(decoder.decode(new DataView(bytes(0x63).buffer)), 'c', 'DataView input');
  const sub = new Uint8Array(bytes(0x61, 0x62, 0x63, 0x64).buffer, 1, 2);
  assertEquals(decoder.decode(sub), 'bc', 'view offset and length');
}

export function decoderLabels() {
  for (const label of ['utf-8', 'UTF-8', 'utf8', ' unicode-1-1-utf-8 ', 'unicode20utf8']) {
    assertEquals(new TextDecoder(label).encoding, 'utf-8', label);
  }
  // The legacy encodings: text_decoder_legacy.test.js.
  assertEquals(new TextDecoder('latin2').encoding, 'iso-8859-2');
  assertThrows(() => new TextDecoder('nonsense'), RangeError);
  assertThrows(() => new TextDecoder('iso-2022-kr'), RangeError, 'the replacement encoding');
}

export function decoderRejectsNonBuffers() {
  assertThrows(() => new TextDecoder().decode('abc'), TypeError);
  assertThrows(() => new TextDecoder().decode([0x61]), TypeError);
}

export function nonFatalReplacesInvalidSequences() {
  const decoder = new TextDecoder();
  assertEquals(decoder.decode(bytes(0xff)), '\ufffd', 'invalid byte');
  assertEquals(decoder.decode(bytes(0x61, 0x80, 0x62)), 'a\ufffdb', 'lone continuation');
  assertEquals(decoder.decode(bytes(0xc0, 0xaf)), '\ufffd\ufffd', 'overlong /');
  assertEquals(decoder.decode(bytes(0xe0, 0x80, 0xaf)), '\ufffd\ufffd\ufffd', 'overlong 3-byte');
  assertEquals(decoder.decode(bytes(0xed, 0xa0, 0x80)), '\ufffd\ufffd\ufffd', 'encoded surrogate');
  assertEquals(decoder.decode(bytes(0xf4, 0x90, 0x80, 0x80)), '\ufffd\ufffd\ufffd\ufffd',
               'above U+10FFFF');
  // A truncated sequence is one maximal subpart: a single U+FFFD, then the next byte afresh.
  assertEquals(decoder.decode(bytes(0xe2, 0x82, 0x61)), '\ufffda', 'truncated then ASCII');
  assertEquals(decoder.decode(bytes(0xf0, 0x9f, 0x98)), '\ufffd', 'truncated at the end');
}

export function fatalThrowsTypeError() {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  assertEquals(decoder.fatal, true);
  assertThrows(() => decoder.decode(bytes(0xff)), TypeError);
  assertThrows(() => decoder.decode(bytes(0xed, 0xa0, 0x80)), TypeError, 'surrogate');
  assertThrows(() => decoder.decode(bytes(0xe2, 0x82)), TypeError, 'truncated at the end');
  assertEquals(decoder.decode(bytes(0xe2, 0x82, 0xac)), '\u20ac', 'usable after an error');
}

export function bomIsStrippedOnceAtTheStart() {
  const decoder = new TextDecoder();
  assertEquals(decoder.decode(bytes(0xef, 0xbb, 0xbf, 0x61)), 'a');
  assertEquals(decoder.decode(bytes(0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf)), '\ufeff',
               'only the first BOM');
  assertEquals(decoder.decode(bytes(0x61, 0xef, 0xbb, 0xbf)), 'a\ufeff', 'not at the start');
  const keep = new TextDecoder('utf-8', { ignoreBOM: true });
  assertEquals(keep.ignoreBOM, true);
  assertEquals(keep.decode(bytes(0xef, 0xbb, 0xbf, 0x61)), '\ufeffa');
}

export function bomSplitAcrossStreamChunks() {
  const decoder = new TextDecoder();
  assertEquals(decoder.decode(bytes(0xef, 0xbb), { stream: true }), '');
  assertEquals(decoder.decode(bytes(0xbf, 0x61), { stream: true }), 'a');
  assertEquals(decoder.decode(bytes(0xef, 0xbb, 0xbf)), '\ufeff', 'mid-stream BOM is kept');
  assertEquals(decoder.decode(bytes(0xef, 0xbb, 0xbf, 0x62)), 'b', 'a new stream strips again');
}

export function streamingAcrossChunks() {
  const decoder = new TextDecoder();
  const euro = [0xe2, 0x82, 0xac];
  let out = '';
  for (const b of euro) out += decoder.decode(bytes(b), { stream: true });
  out += decoder.decode();
  assertEquals(out, '\u20ac', 'one byte at a time');

  const emoji = bytes(0xf0, 0x9f, 0x98, 0x80, 0xf0, 0x9f, 0x98, 0x81);
  out = decoder.decode(emoji.subarray(0, 3), { stream: true });
  out += decoder.decode(emoji.subarray(3, 6), { stream: true });
  out += decoder.decode(emoji.subarray(6));
  assertEquals(out, '\u{1F600}\u{1F601}', 'a surrogate pair split over three chunks');
}

export function streamEndFlushesIncompleteSequence() {
  const decoder = new TextDecoder();
  assertEquals(decoder.decode(bytes(0x61, 0xe2, 0x82), { stream: true }), 'a');
  assertEquals(decoder.decode(), '\ufffd', 'the flush reports the truncated sequence');
  assertEquals(decoder.decode(bytes(0x62)), 'b', 'and the decoder starts afresh');

  const fatal = new TextDecoder('utf-8', { fatal: true });
  assertEquals(fatal.decode(bytes(0xe2), { stream: true }), '');
  assertThrows(() => fatal.decode(), TypeError, 'fatal flush of a truncated sequence');
  assertEquals(fatal.decode(bytes(0x63)), 'c', 'fresh after the fatal error');
}

export function roundTripsEveryPlane() {
  const text = 'ascii \u00ff \u0800 \uffff \u{10000} \u{10ffff}';
  assertEquals(new TextDecoder().decode(new TextEncoder().encode(text)), text);
}
