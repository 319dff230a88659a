// CompressionStream and DecompressionStream (https://compression.spec.whatwg.org/): known
// bytes from gzip and Python's zlib, round trips, chunk boundaries, errors, and bounded output
// for a highly compressible input.
import { assert, assertArrayEquals, assertEquals, assertRejects, assertThrows } from './lib/assert.js';
import { binaryInput, kCompressed, kText } from './lib/compression_fixtures.js';

const kFormats = ['gzip', 'deflate', 'deflate-raw'];

function fromBase64(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

function concat(chunks) {
  const total = chunks.reduce((sum, c) => sum + c.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

async function collect(readable) {
  const chunks = [];
  for await (const chunk of readable) {
    assert(chunk instanceof Uint8Array, 'every output chunk is a Uint8Array');
    chunks.push(chunk);
  }
  return chunks;
}

// The bytes `transform` makes of `chunks`, written in that order.
async function run(transform, chunks) {
  return concat(await collect(ReadableStream.from(chunks).pipeThrough(transform)));
}

// Rejects with a TypeError from the codec, not from some mistake on the way there.
async function assertCodecError(fn, what) {
  try {
    await fn();
  } catch (error) {
    assert(error instanceof TypeError, `${what}: expected a TypeError, got ${error}`);
    assert(/compressed|chunk must/.test(error.message), `${what}: ${error.message}`);
    return;
  }
  throw new Error(`${what}: expected a TypeError, none was thrown`);
}

function sameBytes(actual, expected, message) {
  assertEquals(actual.length, expected.length, `${message}: length`);
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) throw new Error(`${message}: byte ${i} differs`);
  }
}

const kInputs = {
  text: () => new TextEncoder().encode(kText),
  binary: binaryInput,
};

export function shapes() {
  for (const Class of [CompressionStream, DecompressionStream]) {
    const stream = new Class('gzip');
    assert(stream.readable instanceof ReadableStream, `${Class.name}.readable`);
    assert(stream.writable instanceof WritableStream, `${Class.name}.writable`);
    assertEquals(Object.prototype.toString.call(stream), `[object ${Class.name}]`);
    assertThrows(() => Object.getOwnPropertyDescriptor(Class.prototype, 'readable').get.call({}),
                 TypeError);
  }
}

export function unknownFormatIsATypeError() {
  for (const Class of [CompressionStream, DecompressionStream]) {
    for (const format of ['zip', 'GZIP', 'gzip ', 'br', '', undefined, null]) {
      assertThrows(() => new Class(format), TypeError, `${Class.name}(${String(format)})`);
    }
    assertThrows(() => new Class(), TypeError, `${Class.name}()`);
    assertThrows(() => new Class(Symbol('gzip')), TypeError, `${Class.name}(Symbol)`);
    // The enum conversion is ToString first.
    new Class({ toString: () => 'deflate' });
  }
}

export async function decompressesKnownBytes() {
  for (const [name, input] of Object.entries(kInputs)) {
    for (const format of kFormats) {
      const out = await run(new DecompressionStream(format), [fromBase64(kCompressed[name][format])]);
      sameBytes(out, input(), `${name} ${format}`);
    }
  }
}

export async function roundTripsEachFormat() {
  for (const [name, input] of Object.entries(kInputs)) {
    for (const format of kFormats) {
      const compressed = await run(new CompressionStream(format), [input()]);
      if (format === 'gzip') assertArrayEquals(compressed.slice(0, 3), [0x1f, 0x8b, 8], 'gzip magic');
      if (format === 'deflate') assertEquals(compressed[0], 0x78, 'zlib header');
      if (name === 'text') assert(compressed.length < input().length, `${format} compresses text`);
      sameBytes(await run(new DecompressionStream(format), [compressed]), input(), `${name} ${format}`);
    }
  }
}

export async function acceptsEveryBufferSource() {
  const input = new TextEncoder().encode(kText);
  const padded = new Uint8Array(input.length + 8);
  padded.set(input, 4);
  const chunks = [
    input.buffer,
    new DataView(padded.buffer, 4, input.length),
    new Uint16Array(input.slice(0, 144).buffer),
    new Uint8Array(input.buffer, 144),
  ];
  const compressed = await run(new CompressionStream('deflate'), chunks);
  const expected = concat([input, input, input.slice(0, 144), input.slice(144)]);
  sameBytes(await run(new DecompressionStream('deflate'), [compressed.buffer]), expected, 'mixed');
}

export async function splitsAtEveryByte() {
  for (const format of kFormats) {
    const compressed = fromBase64(kCompressed.text[format]);
    const expected = kInputs.text();
    for (let i = 0; i <= compressed.length; i++) {
      const out = await run(new DecompressionStream(format),
                            [compressed.slice(0, i), compressed.slice(i)]);
      sameBytes(out, expected, `${format} split at ${i}`);
    }
    const bytes = Array.from(compressed, (b) => new Uint8Array([b]));
    sameBytes(await run(new DecompressionStream(format), bytes), expected, `${format} bytewise`);
    // Compression fed one byte at a time gives the same stream as one chunk would decode to.
    const input = Array.from(expected, (b) => new Uint8Array([b]));
    const recompressed = await run(new CompressionStream(format), input);
    sameBytes(await run(new DecompressionStream(format), [recompressed]), expected,
              `${format} compressed bytewise`);
  }
}

export async function emptyInput() {
  for (const format of kFormats) {
    const known = await run(new DecompressionStream(format), [fromBase64(kCompressed.empty[format])]);
    assertEquals(known.length, 0, `${format} known empty`);
    const compressed = await run(new CompressionStream(format), []);
    assert(compressed.length > 0, `${format}: the empty input still has a header or a final block`);
    assertEquals((await run(new DecompressionStream(format), [compressed])).length, 0);
    // Empty chunks are no input at all.
    const withEmpties = await run(new CompressionStream(format),
                                  [new Uint8Array(0), new ArrayBuffer(0)]);
    assertEquals((await run(new DecompressionStream(format), [withEmpties])).length, 0);
    // No bytes at all is not a compressed stream.
    await assertCodecError(() => run(new DecompressionStream(format), []), `${format} no bytes`);
  }
}

export async function corruptInputIsATypeError() {
  const corrupt = {
    // Wrong gzip magic, a zlib header whose check bits fail, a reserved block type.
    'gzip': [0x1f, 0x8c, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0],
    'deflate': [0x78, 0x9d, 3, 0, 0, 0, 0, 1],
    'deflate-raw': [0xff, 0xff, 0xff],
  };
  for (const format of kFormats) {
    await assertCodecError(() => run(new DecompressionStream(format), [new Uint8Array(corrupt[format])]),
                           `${format} corrupt`);
    // A flipped bit in the trailer: the gzip CRC-32 or the zlib Adler-32 check fails.
    if (format !== 'deflate-raw') {
      const bytes = fromBase64(kCompressed.text[format]);
      bytes[bytes.length - (format === 'gzip' ? 8 : 1)] ^= 1;
      await assertCodecError(() => run(new DecompressionStream(format), [bytes]), `${format} check`);
    }
  }
}

export async function truncatedInputIsATypeError() {
  for (const format of kFormats) {
    const compressed = fromBase64(kCompressed.text[format]);
    for (let length = 0; length < compressed.length; length++) {
      await assertCodecError(() => run(new DecompressionStream(format), [compressed.slice(0, length)]),
                             `${format} cut to ${length} bytes`);
    }
  }
}

export async function trailingDataIsATypeError() {
  for (const format of kFormats) {
    const compressed = fromBase64(kCompressed.text[format]);
    const garbage = new Uint8Array([1, 2, 3]);
    await assertCodecError(() => run(new DecompressionStream(format), [concat([compressed, garbage])]),
                           `${format} + garbage`);
    // In a chunk of its own after the end.
    await assertCodecError(() => run(new DecompressionStream(format), [compressed, garbage]),
                           `${format}, garbage`);
    // A second complete stream is trailing data too.
    await assertCodecError(() => run(new DecompressionStream(format), [compressed, compressed]),
                           `${format} twice`);
  }
}

export async function nonBufferSourceChunksAreTypeErrors() {
  for (const Class of [CompressionStream, DecompressionStream]) {
    for (const chunk of ['text', 42, {}, [1, 2], null, undefined]) {
      await assertCodecError(() => run(new Class('gzip'), [chunk]), `${Class.name} ${chunk}`);
    }
  }
}

// 10 MB of one byte compresses to a few KB; decompressing it comes back in many chunks of at
// most 64 KiB, produced as the reader asks for them rather than all at once.
export async function highlyCompressibleInputDecompressesInBoundedChunks() {
  const size = 10 * 1024 * 1024;
  const input = new Uint8Array(size).fill(0x61);
  const compressed = await run(new CompressionStream('gzip'), [input]);
  assert(compressed.length < 64 * 1024, `10 MB of 'a' compressed to ${compressed.length} bytes`);

  const ds = new DecompressionStream('gzip');
  const writer = ds.writable.getWriter();
  const reader = ds.readable.getReader();
  let chunksWhenWriteSettled = -1;
  let chunks = 0;
  let total = 0;
  const written = writer.write(compressed).then(() => {
    chunksWhenWriteSettled = chunks;
  });
  const closed = writer.close();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    assert(value.byteLength > 0 && value.byteLength <= 65536, `chunk of ${value.byteLength} bytes`);
    if (value[0] !== 0x61 || value[value.length - 1] !== 0x61) throw new Error('wrong bytes');
    chunks++;
    total += value.byteLength;
  }
  await written;
  await closed;
  assertEquals(total, size);
  assert(chunks >= size / 65536, `${chunks} chunks`);
  // The one write finished only when the reader had taken nearly all of the output: the
  // transformer waited for the reader between chunks.
  assert(chunksWhenWriteSettled >= chunks - 2,
         `the write settled after ${chunksWhenWriteSettled} of ${chunks} chunks were read`);
}

export async function cancellingTheReaderStopsDecompression() {
  const compressed = await run(new CompressionStream('deflate'), [new Uint8Array(4 << 20)]);
  const ds = new DecompressionStream('deflate');
  const writer = ds.writable.getWriter();
  const reader = ds.readable.getReader();
  const written = writer.write(compressed);
  const first = await reader.read();
  assertEquals(first.value.byteLength, 65536);
  await reader.cancel(new Error('enough'));
  // The pending write ends (rejected: the writable side is errored), it does not hang.
  await written.then(() => {}, () => {});
  await assertRejects(() => writer.write(new Uint8Array(1)), Error);
}

// The chunk's bytes are taken when its transform starts: changing or detaching the buffer
// while the transformer waits for the reader changes nothing.
export async function chunksAreCopiedBeforeWaitingForTheReader() {
  const random = new Uint8Array(2 << 20);
  for (let i = 0; i < random.length; i += 65536) crypto.getRandomValues(random.subarray(i, i + 65536));
  const input = random.slice();
  const cs = new CompressionStream('deflate-raw');
  const writer = cs.writable.getWriter();
  const reader = cs.readable.getReader();
  writer.write(input);
  writer.close();
  const chunks = [(await reader.read()).value];
  input.fill(0);
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    chunks.push(value);
  }
  sameBytes(await run(new DecompressionStream('deflate-raw'), [concat(chunks)]), random, 'mutated');

  // Growing a WebAssembly.Memory detaches its old buffer.
  const zeros = await run(new CompressionStream('gzip'), [new Uint8Array(1 << 20)]);
  const memory = new WebAssembly.Memory({ initial: 1 });
  const compressed = new Uint8Array(memory.buffer, 0, zeros.length);
  compressed.set(zeros);
  const ds = new DecompressionStream('gzip');
  const dsWriter = ds.writable.getWriter();
  const dsReader = ds.readable.getReader();
  dsWriter.write(compressed);
  dsWriter.close();
  let total = (await dsReader.read()).value.byteLength;
  memory.grow(1);
  assertEquals(compressed.byteLength, 0, 'detached');
  for (;;) {
    const { value, done } = await dsReader.read();
    if (done) break;
    total += value.byteLength;
  }
  assertEquals(total, 1 << 20);
}

export async function sharedMemoryIsNotABufferSource() {
  if (typeof SharedArrayBuffer !== 'function') return;
  const shared = new Uint8Array(new SharedArrayBuffer(4));
  await assertCodecError(() => run(new CompressionStream('gzip'), [shared]), 'shared view');
  await assertCodecError(() => run(new CompressionStream('gzip'), [shared.buffer]), 'shared buffer');
}

export async function abortingTheWriterStopsDecompression() {
  const compressed = await run(new CompressionStream('gzip'), [new Uint8Array(4 << 20)]);
  const ds = new DecompressionStream('gzip');
  const writer = ds.writable.getWriter();
  const reader = ds.readable.getReader();
  const written = writer.write(compressed);
  assertEquals((await reader.read()).value.byteLength, 65536);
  // Nobody reads any more; the abort must not wait for a reader to drain the output.
  await writer.abort(new RangeError('stop'));
  await written.then(() => {}, () => {});
  await assertRejects(() => reader.read(), RangeError);
}

export async function pipesThroughBothAsIdentity() {
  const pieces = [kInputs.text(), binaryInput(), new Uint8Array(200000).fill(7), kInputs.text()];
  for (const format of kFormats) {
    const readable = ReadableStream.from(pieces)
        .pipeThrough(new CompressionStream(format))
        .pipeThrough(new DecompressionStream(format));
    sameBytes(concat(await collect(readable)), concat(pieces), format);
  }
}

export async function responseBodiesCompressAndDecompress() {
  const body = new Response(kText).body.pipeThrough(new CompressionStream('gzip'));
  const compressed = await new Response(body).arrayBuffer();
  assertArrayEquals(new Uint8Array(compressed, 0, 2), [0x1f, 0x8b]);
  const text = await new Response(new Response(compressed).body
      .pipeThrough(new DecompressionStream('gzip'))).text();
  assertEquals(text, kText);
  const known = new Response(fromBase64(kCompressed.text.deflate)).body
      .pipeThrough(new DecompressionStream('deflate'));
  assertEquals(await new Response(known).text(), kText);
}
