// The body mixin on Request and Response (https://fetch.spec.whatwg.org/#body-mixin): every
// kind of body init against every reader, content types, formData() parsing both ways, used and
// locked bodies, and clone().
import { assert, assertArrayEquals, assertEquals, assertRejects,
         assertThrows } from './lib/assert.js';

const text = 'héllo \u{1F600}';
const utf8 = Array.from(new TextEncoder().encode(text));

// Each body init that carries `text`, with the Content-Type it implies.
const inits = {
  string: () => [text, 'text/plain;charset=UTF-8'],
  arrayBuffer: () => [new TextEncoder().encode(text).buffer, null],
  uint8Array: () => [new TextEncoder().encode(text), null],
  dataView: () => {
    const padded = new Uint8Array(utf8.length + 4);
    padded.set(utf8, 2);
    return [new DataView(padded.buffer, 2, utf8.length), null];
  },
  blob: () => [new Blob([text], { type: 'Text/Plain' }), 'text/plain'],
  stream: () => [new ReadableStream({
    start(c) {
      const bytes = new TextEncoder().encode(text);
      c.enqueue(bytes.subarray(0, 3));  // splits the é
      c.enqueue(bytes.subarray(3));
      c.close();
    },
  }), null],
  byteStream: () => [new Blob([text]).stream(), null],
};

const readers = {
  text: async (r) => assertEquals(await r.text(), text),
  arrayBuffer: async (r) => {
    const buffer = await r.arrayBuffer();
    assert(buffer instanceof ArrayBuffer);
    assertArrayEquals(new Uint8Array(buffer), utf8);
  },
  bytes: async (r) => {
    const bytes = await r.bytes();
    assert(bytes instanceof Uint8Array);
    assertArrayEquals(bytes, utf8);
  },
  blob: async (r) => {
    const blob = await r.blob();
    assert(blob instanceof Blob);
    assertEquals(blob.type, (r.headers.get('content-type') ?? '').toLowerCase());
    assertEquals(await blob.text(), text);
  },
  body: async (r) => {
    const chunks = [];
    for await (const chunk of r.body) {
      assert(chunk instanceof Uint8Array, 'body chunks are Uint8Arrays');
      chunks.push(...chunk);
    }
    assertArrayEquals(chunks, utf8);
  },
};

async function everyInitEveryReader(make) {
  for (const [initName, init] of Object.entries(inits)) {
    for (const [readerName, read] of Object.entries(readers)) {
      const [body, type] = init();
      const r = make(body);
      assertEquals(r.headers.get('content-type'), type, `${initName}: content-type`);
      assertEquals(r.bodyUsed, false);
      try {
        await read(r);
      } catch (error) {
        throw new Error(`${initName} body read with ${readerName}: ${error.message}`);
      }
      assertEquals(r.bodyUsed, true, `${initName} × ${readerName}: used after reading`);
    }
  }
}

export async function responseEveryInitEveryReader() {
  await everyInitEveryReader((body) => new Response(body));
}

export async function requestEveryInitEveryReader() {
  await everyInitEveryReader((body) => new Request('https://example.com/',
                                                    { method: 'POST', body }));
}

export async function jsonReader() {
  assertEquals((await new Response('{"a":[1,2]}').json()).a[1], 2);
  await assertRejects(() => new Response('{nope').json(), SyntaxError);
  assertEquals((await Response.json({ x: 1 }).json()).x, 1);
}

export async function nullBodies() {
  const r = new Response(null);
  assertEquals(r.body, null);
  assertEquals(await r.text(), '');
  assertEquals(r.bodyUsed, false, 'a null body is never used');
  assertEquals((await new Response().arrayBuffer()).byteLength, 0);
  assertEquals(new Request('https://example.com/').body, null);
}

export async function textDecodingMatchesUtf8Decode() {
  assertEquals(await new Response('\uFEFFbom').text(), 'bom', 'a leading BOM is dropped');
  assertEquals(await new Response('a\uD800b').text(), 'a\uFFFDb', 'a lone surrogate');
  assertEquals(await new Response(new Uint8Array([0x61, 0xC3])).text(), 'a\uFFFD');
}

export async function usedBodiesReject() {
  const r = new Response('once');
  await r.text();
  await assertRejects(() => r.text(), TypeError);
  await assertRejects(() => r.arrayBuffer(), TypeError);
  const body = r.body;
  assert(body instanceof ReadableStream, 'a read body still has a stream');
  assertEquals(body.locked, true, 'which is locked');
  assertThrows(() => r.clone(), TypeError, 'a used body cannot be cloned');
}

export async function bodyStreamIsKeptAndDisturbsTheBody() {
  const r = new Response('abc');
  const stream = r.body;
  assertEquals(r.body, stream, 'the same stream every time');
  assertEquals(r.bodyUsed, false);
  const reader = stream.getReader();
  await assertRejects(() => r.text(), TypeError);  // locked
  const { value } = await reader.read();
  assertArrayEquals(value, [0x61, 0x62, 0x63]);
  assertEquals(r.bodyUsed, true, 'reading the stream disturbs the body');
  reader.releaseLock();
  await assertRejects(() => r.text(), TypeError);
}

export async function responseBodyIsAByteStream() {
  const reader = new Response('abcdef').body.getReader({ mode: 'byob' });
  const { value } = await reader.read(new Uint8Array(2));
  assertEquals(String.fromCharCode(...value), 'ab');
}

export function lockedOrDisturbedStreamsAreRefused() {
  const locked = new ReadableStream();
  locked.getReader();
  assertThrows(() => new Response(locked), TypeError);
  const disturbed = new ReadableStream();
  disturbed.cancel();
  assertThrows(() => new Response(disturbed), TypeError);
}

export async function streamChunksMustBeBytes() {
  const r = new Response(ReadableStream.from(['not bytes']));
  await assertRejects(() => r.text(), TypeError);
}

export async function streamErrorsReachTheReader() {
  const r = new Response(new ReadableStream({ start(c) { c.error(new RangeError('broken')); } }));
  await assertRejects(() => r.arrayBuffer(), RangeError);
}

export async function cloneTeesAStreamBody() {
  const r = new Response(ReadableStream.from([new Uint8Array([1, 2]), new Uint8Array([3])]),
                         { status: 201, headers: { 'x-a': 'b' } });
  const copy = r.clone();
  assertEquals(copy.status, 201);
  assertEquals(copy.headers.get('x-a'), 'b');
  const [a, b] = await Promise.all([r.bytes(), copy.bytes()]);
  assertArrayEquals(a, [1, 2, 3]);
  assertArrayEquals(b, [1, 2, 3]);
}

export async function cloneOfBytesIsIndependent() {
  const r = new Response(new Uint8Array([1, 2, 3]));
  const copy = r.clone();
  new Uint8Array(await r.arrayBuffer())[0] = 9;
  assertArrayEquals(await copy.bytes(), [1, 2, 3]);
  const req = new Request('https://example.com/', { method: 'PUT', body: 'req' });
  const reqCopy = req.clone();
  assertEquals(await req.text(), 'req');
  assertEquals(await reqCopy.text(), 'req');
}

export async function requestFromRequestMovesTheBody() {
  const first = new Request('https://example.com/', { method: 'POST', body: 'moved' });
  const second = new Request(first);
  assertEquals(first.bodyUsed, true, 'the source Request is used');
  assertEquals(await second.text(), 'moved');
  assertThrows(() => new Request(first), TypeError, 'a used body cannot move again');
}

export async function multipartRoundTrip() {
  const form = new FormData();
  form.append('field', 'value with "quotes"\nand a newline');
  form.append('field', 'second');
  form.append('name\r\nwith"odd', 'x');
  form.append('file', new File([new Uint8Array([0, 1, 2, 255])], 'data "1".bin',
                               { type: 'application/x-thing' }));
  form.append('text', new Blob(['plain']));
  const r = new Response(form);
  const type = r.headers.get('content-type');
  assert(/^multipart\/form-data; boundary=.+$/.test(type), `content-type: ${type}`);
  const parsed = await r.formData();
  assertArrayEquals(parsed.getAll('field'), ['value with "quotes"\r\nand a newline', 'second'],
                    'string values round-trip with newlines normalised to CRLF');
  assertEquals(parsed.get('name%0D%0Awith%22odd'), 'x', 'names are escaped on the wire');
  const file = parsed.get('file');
  assert(file instanceof File);
  assertEquals(file.name, 'data %221%22.bin');
  assertEquals(file.type, 'application/x-thing');
  assertArrayEquals(new Uint8Array(await file.arrayBuffer()), [0, 1, 2, 255]);
  const blob = parsed.get('text');
  assertEquals(blob.name, 'blob');
  assertEquals(blob.type, 'application/octet-stream', 'an untyped file is sent as octets');
  assertEquals(await blob.text(), 'plain');
}

export async function multipartBoundariesAreRandom() {
  const a = new Response(new FormData()).headers.get('content-type');
  const b = new Response(new FormData()).headers.get('content-type');
  assert(a !== b, 'each body gets its own boundary');
}

export async function multipartParsesABrowserStyleBody() {
  const body = '--XyZ\r\n' +
               'Content-Disposition: form-data; name="a"\r\n\r\n' +
               'one\r\n' +
               '--XyZ\r\n' +
               'Content-Disposition: form-data; name="up"; filename="f.txt"\r\n\r\n' +
               'file body\r\n' +
               '--XyZ--\r\n';
  const r = new Response(body, {
    headers: { 'content-type': 'multipart/form-data; boundary="XyZ"' },
  });
  const form = await r.formData();
  assertEquals(form.get('a'), 'one');
  assertEquals(form.get('up').name, 'f.txt');
  assertEquals(form.get('up').type, 'text/plain', 'a file part without a type is text/plain');
  assertEquals(await form.get('up').text(), 'file body');
}

export async function malformedMultipartIsATypeError() {
  const headers = { 'content-type': 'multipart/form-data; boundary=b' };
  await assertRejects(() => new Response('--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nx',
                                         { headers }).formData(), TypeError);
  await assertRejects(() => new Response('garbage', { headers }).formData(), TypeError);
  await assertRejects(() => new Response('--b--', {
    headers: { 'content-type': 'multipart/form-data' } }).formData(), TypeError);
  await assertRejects(() => new Response('--b\r\nX-No-Disposition: 1\r\n\r\nx\r\n--b--\r\n',
                                         { headers }).formData(), TypeError);
}

export async function urlencodedFormData() {
  const r = new Response('a=1&b=two+words&a=%C3%A9&&empty=&flag&%3D=%26', {
    headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' },
  });
  const form = await r.formData();
  assertArrayEquals(form.getAll('a'), ['1', 'é']);
  assertEquals(form.get('b'), 'two words');
  assertEquals(form.get('empty'), '');
  assertEquals(form.get('flag'), '');
  assertEquals(form.get('='), '&');
  assertArrayEquals([...form.keys()], ['a', 'b', 'a', 'empty', 'flag', '=']);
}

export async function urlSearchParamsBody() {
  const r = new Response(new URLSearchParams({ q: 'a b', x: 'é' }));
  assertEquals(r.headers.get('content-type'), 'application/x-www-form-urlencoded;charset=UTF-8');
  const form = await r.formData();
  assertEquals(form.get('q'), 'a b');
  assertEquals(form.get('x'), 'é');
}

export async function formDataNeedsAFormContentType() {
  await assertRejects(() => new Response('a=1').formData(), TypeError);
  await assertRejects(() => new Response('a=1', { headers: { 'content-type': 'text/html' } })
      .formData(), TypeError);
}

export function explicitContentTypeWins() {
  const r = new Response('x', { headers: { 'content-type': 'application/custom' } });
  assertEquals(r.headers.get('content-type'), 'application/custom');
  const b = new Response(new Blob(['x']));
  assertEquals(b.headers.get('content-type'), null, 'an untyped Blob sets no content-type');
}

export function nullBodyStatuses() {
  assertThrows(() => new Response(new ReadableStream(), { status: 204 }), TypeError);
  assertThrows(() => new Response(new Blob(['x']), { status: 304 }), TypeError);
  assertEquals(new Response(null, { status: 204 }).body, null);
}

export async function passingABodyStreamOnKeepsItsBytes() {
  const inner = new Response('passed on');
  const outer = new Response(inner.body, { headers: { 'x-wrapped': '1' } });
  assertEquals(inner.bodyUsed, false, 'handing the stream over does not read it');
  assertEquals(await outer.text(), 'passed on');
  assertEquals(inner.bodyUsed, true, 'reading the new body read the old stream');
  assertEquals(inner.body.locked, true);
  await assertRejects(() => inner.text(), TypeError);

  // Once someone has read from the stream it can't be passed on; what is left stays readable.
  const partial = new Response('abcdef');
  const reader = partial.body.getReader({ mode: 'byob' });
  await reader.read(new Uint8Array(2));
  reader.releaseLock();
  assertThrows(() => new Response(partial.body), TypeError);
  const rest = [];
  for await (const chunk of partial.body) rest.push(...chunk);
  assertEquals(String.fromCharCode(...rest), 'cdef');
}

export async function multipartHasNoLimitsBeyondTheBodySize() {
  const form = new FormData();
  const big = new Uint8Array(3 << 20);
  big[big.length - 1] = 7;
  form.append('big', new File([big], 'big.bin'));
  for (let i = 0; i < 1500; ++i) form.append(`f${i}`, String(i));
  const parsed = await new Response(form).formData();
  const file = parsed.get('big');
  assertEquals(file.size, 3 << 20, 'a file over the parser library\'s 2 MiB default');
  assertEquals((await file.bytes())[big.length - 1], 7);
  assertEquals(parsed.getAll('f1499')[0], '1499', 'more parts than its default 1000');
}
