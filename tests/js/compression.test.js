// CompressionStream and DecompressionStream: round trips in every format, bytes from gzip(1),
// chunked input, and the TypeErrors for bad formats, bad chunks and truncated input.
import { assert, assertArrayEquals, assertEquals, assertThrows } from './lib/assert.js';

// Writes `chunks` into `stream` while reading its output; returns the output as one array.
async function pipe(stream, chunks) {
  const reader = stream.readable.getReader();
  const reading = (async () => {
    const parts = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      assert(value instanceof Uint8Array, 'output chunks are Uint8Arrays');
      parts.push(...value);
    }
    return new Uint8Array(parts);
  })();
  const writer = stream.writable.getWriter();
  const writing = (async () => {
    for (const chunk of chunks) await writer.write(chunk);
    await writer.close();
  })();
  const [output] = await Promise.all([reading, writing]);
  return output;
}

function split(bytes, size) {
  const chunks = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return chunks;
}

// `printf 'hello, world\n' | gzip -n -9`
const kGzipHello = new Uint8Array([
  0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9,
  0xd7, 0x51, 0x28, 0xcf, 0x2f, 0xca, 0x49, 0xe1, 0x02, 0x00, 0x53, 0x74, 0x24, 0xf4, 0x0d,
  0x00, 0x00, 0x00]);

export async function decompressesBytesFromGzip() {
  const out = await pipe(new DecompressionStream('gzip'), [kGzipHello]);
  assertEquals(new TextDecoder().decode(out), 'hello, world\n');
  // One byte at a time, and from an ArrayBuffer.
  const bytewise = await pipe(new DecompressionStream('gzip'), split(kGzipHello, 1));
  assertEquals(new TextDecoder().decode(bytewise), 'hello, world\n');
  const fromBuffer = await pipe(new DecompressionStream('gzip'), [kGzipHello.slice().buffer]);
  assertEquals(new TextDecoder().decode(fromBuffer), 'hello, world\n');
}

export async function roundTripsInEveryFormat() {
  const text = 'The quick brown fox jumps over the lazy dog. '.repeat(500) + '\u{1F600}';
  const input = new TextEncoder().encode(text);
  for (const format of ['gzip', 'deflate', 'deflate-raw']) {
    const packed = await pipe(new CompressionStream(format), split(input, 1000));
    assert(packed.length < input.length / 10, `${format} compresses`);
    const unpacked = await pipe(new DecompressionStream(format), split(packed, 7));
    assertEquals(new TextDecoder().decode(unpacked), text, format);
  }
  const gz = await pipe(new CompressionStream('gzip'), [input]);
  assertArrayEquals(gz.subarray(0, 3), [0x1f, 0x8b, 0x08], 'a gzip member header');
  const empty = await pipe(new DecompressionStream('deflate'),
                           [await pipe(new CompressionStream('deflate'), [])]);
  assertEquals(empty.length, 0);
}

export async function truncatedInputIsATypeError() {
  let error = null;
  try {
    await pipe(new DecompressionStream('gzip'), [kGzipHello.subarray(0, 20)]);
  } catch (e) {
    error = e;
  }
  assert(error instanceof TypeError, `expected a TypeError, got ${error}`);
  assertEquals(error.message, 'the compressed data ended before the end of its stream');
}

export async function corruptAndTrailingInputAreTypeErrors() {
  for (const [bytes, message] of [
    [new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]), 'the compressed data is invalid'],
    [new Uint8Array([...kGzipHello, 0x00]), 'junk found after the end of the compressed data'],
  ]) {
    let error = null;
    try {
      await pipe(new DecompressionStream('gzip'), [bytes]);
    } catch (e) {
      error = e;
    }
    assert(error instanceof TypeError, `expected a TypeError, got ${error}`);
    assert(error.message.startsWith(message), error.message);
  }
}

export async function badArgumentsAreTypeErrors() {
  assertThrows(() => new CompressionStream('br'), TypeError);
  assertThrows(() => new DecompressionStream(), TypeError);
  assertThrows(() => new CompressionStream('GZIP'), TypeError, 'format names are exact');
  let error = null;
  try {
    await pipe(new CompressionStream('gzip'), ['not bytes']);
  } catch (e) {
    error = e;
  }
  assert(error instanceof TypeError, `expected a TypeError, got ${error}`);
  assertEquals(Object.prototype.toString.call(new CompressionStream('deflate')),
               '[object CompressionStream]');
}

export async function pipesThroughResponseBodies() {
  const text = 'streamed '.repeat(1000);
  const source = new Response(text).body;
  const compressed = await new Response(source.pipeThrough(new CompressionStream('gzip')))
                               .arrayBuffer();
  assert(compressed.byteLength < text.length / 10, 'compressed');
  const roundTrip = await new Response(
      new Response(compressed).body.pipeThrough(new DecompressionStream('gzip'))).text();
  assertEquals(roundTrip, text);
  assert(new CompressionStream('gzip').readable instanceof ReadableStream);
  assert(new DecompressionStream('gzip').writable instanceof WritableStream);
}
