// TextEncoderStream and TextDecoderStream (https://encoding.spec.whatwg.org/#interface-
// textencoderstream): chunk boundaries inside characters, errors, and piping.
import { assertArrayEquals, assertEquals, assertRejects, assertThrows } from './lib/assert.js';

async function collect(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

async function encodeChunks(chunks) {
  const out = await collect(ReadableStream.from(chunks).pipeThrough(new TextEncoderStream()));
  return out.flatMap((c) => Array.from(c));
}

async function decodeChunks(chunks, label, options) {
  const out = await collect(ReadableStream.from(chunks.map((c) => new Uint8Array(c)))
      .pipeThrough(new TextDecoderStream(label, options)));
  return out.join('');
}

export function shapes() {
  const enc = new TextEncoderStream();
  assertEquals(enc.encoding, 'utf-8');
  assertEquals(enc.readable instanceof ReadableStream, true);
  assertEquals(enc.writable instanceof WritableStream, true);
  const dec = new TextDecoderStream('UTF8', { fatal: true });
  assertEquals(dec.encoding, 'utf-8');
  assertEquals(dec.fatal, true);
  assertEquals(dec.ignoreBOM, false);
  assertEquals(Object.prototype.toString.call(dec), '[object TextDecoderStream]');
  assertThrows(() => new TextDecoderStream('nonsense'), RangeError);
  assertEquals(new TextDecoderStream('latin2').encoding, 'iso-8859-2');
  assertThrows(() => Object.getOwnPropertyDescriptor(TextEncoderStream.prototype, 'readable')
      .get.call({}), TypeError);
}

export async function encoderStreamEncodes() {
  assertArrayEquals(await encodeChunks(['h', 'é', '']), [0x68, 0xC3, 0xA9]);
  const out = await collect(ReadableStream.from(['', 'a']).pipeThrough(new TextEncoderStream()));
  assertEquals(out.length, 1, 'an empty chunk produces no output chunk');
  assertEquals(out[0] instanceof Uint8Array, true);
}

export async function encoderStreamJoinsSplitSurrogatePairs() {
  // U+1F600 is \uD83D\uDE00, split across two chunks.
  assertArrayEquals(await encodeChunks(['\uD83D', '\uDE00']), [0xF0, 0x9F, 0x98, 0x80]);
  assertArrayEquals(await encodeChunks(['a\uD83D']), [0x61, 0xEF, 0xBF, 0xBD],
                    'a high surrogate left at the end becomes U+FFFD');
  assertArrayEquals(await encodeChunks(['\uD83D', 'x']), [0xEF, 0xBF, 0xBD, 0x78],
                    'a high surrogate followed by a non-surrogate becomes U+FFFD');
  assertArrayEquals(await encodeChunks(['\uDE00']), [0xEF, 0xBF, 0xBD], 'a lone low surrogate');
}

export async function decoderStreamJoinsSplitSequences() {
  assertEquals(await decodeChunks([[0xF0, 0x9F], [0x98], [0x80, 0x21]]), '\u{1F600}!');
  assertEquals(await decodeChunks([[0xEF, 0xBB], [0xBF, 0x61]]), 'a', 'a split BOM is dropped');
  assertEquals(await decodeChunks([[0xEF, 0xBB, 0xBF, 0x61]], 'utf-8', { ignoreBOM: true }),
               '\uFEFFa');
  assertEquals(await decodeChunks([[0x61, 0xE2, 0x82]]), 'a\uFFFD',
               'a truncated sequence at the end becomes U+FFFD');
}

export async function decoderStreamFatalErrors() {
  await assertRejects(() => decodeChunks([[0x61, 0xFF]], 'utf-8', { fatal: true }), TypeError);
  await assertRejects(() => decodeChunks([[0xE2, 0x82]], 'utf-8', { fatal: true }), TypeError);
}

export async function decoderStreamRejectsNonBufferChunks() {
  const dec = new TextDecoderStream();
  const writer = dec.writable.getWriter();
  const read = dec.readable.getReader().read();  // lets the write through to the transform
  await assertRejects(() => writer.write('not bytes'), TypeError);
  await assertRejects(() => read, TypeError);
}

export async function roundTripThroughBoth() {
  const text = 'stream \u{1F600} round trip, ünïcödé';
  const out = await collect(ReadableStream.from([...text])
      .pipeThrough(new TextEncoderStream())
      .pipeThrough(new TextDecoderStream()));
  assertEquals(out.join(''), text);
}
