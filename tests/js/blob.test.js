// Blob and File (https://w3c.github.io/FileAPI/): parts, type, size, slice, the readers and
// stream().
import { assert, assertArrayEquals, assertEquals, assertThrows } from './lib/assert.js';

const bytesOf = async (blob) => Array.from(new Uint8Array(await blob.arrayBuffer()));

export function globals() {
  for (const name of ['Blob', 'File', 'FormData']) {
    assertEquals(typeof globalThis[name], 'function', `${name} is a global class`);
  }
  assertEquals(Object.prototype.toString.call(new Blob()), '[object Blob]');
  assertEquals(Object.prototype.toString.call(new File([], 'f')), '[object File]');
}

export async function partsAreConcatenated() {
  const inner = new Blob(['in']);
  const buffer = new Uint8Array([0x41, 0x42, 0x43, 0x44]);
  const blob = new Blob(['é', buffer.buffer, buffer.subarray(1, 3), inner, 7]);
  assertEquals(blob.size, 2 + 4 + 2 + 2 + 1);
  assertEquals(await blob.text(), 'éABCDBCin7');
  buffer[0] = 0x5A;
  assertEquals(await blob.text(), 'éABCDBCin7', 'buffer parts are copied');
  assertEquals(new Blob().size, 0);
  assertEquals(await new Blob([]).text(), '');
}

export async function stringPartsAreUtf8WithReplacement() {
  assertArrayEquals(await bytesOf(new Blob(['\uD800'])), [0xEF, 0xBF, 0xBD]);
  assertArrayEquals(await bytesOf(new Blob(['a\r\nb\rc'], { endings: 'native' })),
                    [0x61, 0x0A, 0x62, 0x0A, 0x63]);
  assertArrayEquals(await bytesOf(new Blob(['a\r\n'])), [0x61, 0x0D, 0x0A],
                    'endings default to transparent');
}

export function constructorChecks() {
  assertThrows(() => new Blob('not a sequence'), TypeError);
  assertThrows(() => new Blob(42), TypeError);
  assertThrows(() => new Blob([], { endings: 'windows' }), TypeError);
  assertThrows(() => new File(['x']), TypeError, 'File needs a name');
}

export function typeIsLowerCasedOrEmpty() {
  assertEquals(new Blob([], { type: 'Text/HTML;Charset=UTF-8' }).type, 'text/html;charset=utf-8');
  assertEquals(new Blob([], { type: 'caf\u00e9' }).type, '', 'non-ASCII makes the type empty');
  assertEquals(new Blob([], { type: 'a\nb' }).type, '', 'a control character too');
  assertEquals(new Blob().type, '');
}

export async function sliceWithNegativeAndClampedIndices() {
  const blob = new Blob(['0123456789'], { type: 'text/plain' });
  assertEquals(await blob.slice(2, 5).text(), '234');
  assertEquals(await blob.slice(-3).text(), '789');
  assertEquals(await blob.slice(-3, -1).text(), '78');
  assertEquals(await blob.slice(5, 2).text(), '', 'end before start is empty');
  assertEquals(await blob.slice(-100, 100).text(), '0123456789');
  assertEquals(await blob.slice().text(), '0123456789');
  assertEquals(blob.slice(0, 1).type, '', 'a slice has no type unless given one');
  assertEquals(blob.slice(0, 1, 'A/B').type, 'a/b');
  assertEquals(blob.slice(1, 4).slice(1).size, 2);
  assertEquals(await blob.slice(1, 4).slice(1).text(), '23');
}

export async function readersReturnCopies() {
  const blob = new Blob([new Uint8Array([1, 2, 3])]);
  const a = await blob.arrayBuffer();
  new Uint8Array(a)[0] = 99;
  assertArrayEquals(await bytesOf(blob), [1, 2, 3]);
  const bytes = await blob.bytes();
  assert(bytes instanceof Uint8Array);
  assertArrayEquals(bytes, [1, 2, 3]);
  assertEquals(await new Blob([new Uint8Array([0xEF, 0xBB, 0xBF, 0x68, 0xFF])]).text(),
               'h\uFFFD', 'text() drops a BOM and replaces invalid bytes');
}

export async function streamYieldsTheBytes() {
  const data = new Uint8Array(200000);
  for (let i = 0; i < data.length; ++i) data[i] = i % 251;
  const stream = new Blob([data]).stream();
  assert(stream instanceof ReadableStream);
  let total = 0;
  let chunks = 0;
  let ok = true;
  for await (const chunk of stream) {
    assert(chunk instanceof Uint8Array);
    for (let i = 0; i < chunk.length; ++i) ok = ok && chunk[i] === (total + i) % 251;
    total += chunk.length;
    chunks += 1;
  }
  assertEquals(total, data.length);
  assert(ok, 'the bytes come out in order');
  assert(chunks > 1, 'a large blob streams in several chunks');

  const reader = new Blob(['abcdef']).stream().getReader({ mode: 'byob' });
  const { value } = await reader.read(new Uint8Array(4));
  assertEquals(String.fromCharCode(...value), 'abcd', 'the stream is a byte stream (BYOB)');
}

export async function fileHasNameAndLastModified() {
  const before = Date.now();
  const file = new File(['hi'], 'a/b.txt', { type: 'TEXT/PLAIN' });
  assert(file instanceof Blob, 'a File is a Blob');
  assertEquals(file.name, 'a/b.txt');
  assertEquals(file.type, 'text/plain');
  assertEquals(file.size, 2);
  assert(file.lastModified >= before && file.lastModified <= Date.now(),
         'lastModified defaults to now');
  assertEquals(new File([], 'x', { lastModified: 42 }).lastModified, 42);
  assertEquals(new File([], 17).name, '17');
  assertEquals(await new File([file, '!'], 'c').text(), 'hi!');
}
