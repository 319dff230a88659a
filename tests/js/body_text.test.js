// Body.text() decodes natively (worker/body_text.h, V8's UTF-8 decoder): it must agree with the
// WHATWG decoder TextDecoder implements on every kind of invalid input, and stay fast on large
// bodies.
import { assertEquals } from './lib/assert.js';

// Invalid and edge-case UTF-8: truncated sequences, overlongs, surrogates, out-of-range lead
// bytes, stray continuations, a BOM at the start and in the middle.
const cases = [
  [0x61, 0xC3], [0xC3, 0x61], [0xE2, 0x82], [0xE2, 0x82, 0x61], [0xF0, 0x9F, 0x98],
  [0xF0, 0x9F, 0x98, 0x61], [0xC0, 0x80], [0xC1, 0xBF], [0xE0, 0x80, 0x80], [0xE0, 0x9F, 0xBF],
  [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF], [0xF0, 0x80, 0x80, 0x80], [0xF4, 0x90, 0x80, 0x80],
  [0xF5, 0x80], [0xFF], [0xFE, 0xFF], [0x80], [0xBF, 0x80, 0x61], [0xEF, 0xBB, 0xBF, 0x62],
  [0x61, 0xEF, 0xBB, 0xBF], [0xEF, 0xBB], [0xF4, 0x8F, 0xBF, 0xBF], [0xE0, 0xA0, 0x80],
  [0xF8, 0x88, 0x80, 0x80, 0x80], [0xC2], [0xE1, 0x80, 0xC2, 0x80],
];

export async function textMatchesTextDecoderOnInvalidInput() {
  for (const bytes of cases) {
    const expected = new TextDecoder().decode(new Uint8Array(bytes));
    const actual = await new Response(new Uint8Array(bytes)).text();
    assertEquals(JSON.stringify(actual), JSON.stringify(expected), `bytes ${bytes.join(',')}`);
  }
}

export async function textMatchesTextDecoderOnEveryTwoByteSequence() {
  // Every lead byte followed by every second byte, then an ASCII letter.
  const bytes = new Uint8Array(256 * 256 * 3);
  let at = 0;
  for (let a = 0; a < 256; ++a) {
    for (let b = 0; b < 256; ++b) {
      bytes[at++] = a;
      bytes[at++] = b;
      bytes[at++] = 0x7A;
    }
  }
  const expected = new TextDecoder().decode(bytes);
  const actual = await new Response(bytes).text();
  assertEquals(actual.length, expected.length);
  assertEquals(actual === expected, true, 'the same text');
}

export async function largeTextAndJsonRoundTrip() {
  const ascii = 'x'.repeat(4 << 20);
  assertEquals((await new Response(ascii).text()).length, ascii.length);
  const json = JSON.stringify({ data: ascii, list: [1, 2, 3] });
  const parsed = await new Response(new TextEncoder().encode(json)).json();
  assertEquals(parsed.data.length, ascii.length);
  const mixed = 'é'.repeat(1 << 20);
  assertEquals(await new Response(new TextEncoder().encode(mixed)).text() === mixed, true);
}
