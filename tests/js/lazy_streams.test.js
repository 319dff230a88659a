// The streams ponyfill is loaded on first use (worker/js/streams.js): a context that answers
// with string or bytes bodies never loads it, and the first use from anywhere (a global, a
// body's stream, a transform stream) gives the same classes everywhere. One test, because each
// file gets one fresh context and the order of first uses is what is checked.
import { assert, assertEquals } from './lib/assert.js';

const kNames = [
  'ReadableStream', 'ReadableStreamDefaultReader', 'ReadableStreamBYOBReader',
  'ReadableStreamBYOBRequest', 'ReadableStreamDefaultController', 'ReadableByteStreamController',
  'WritableStream', 'WritableStreamDefaultWriter', 'WritableStreamDefaultController',
  'TransformStream', 'TransformStreamDefaultController', 'ByteLengthQueuingStrategy',
  'CountQueuingStrategy', 'TextEncoderStream', 'TextDecoderStream', 'CompressionStream',
  'DecompressionStream',
];

function isStillLazy(name) {
  return typeof Object.getOwnPropertyDescriptor(globalThis, name).get === 'function';
}

export async function streamsLoadOnFirstUseOnly() {
  for (const name of kNames) assert(isStillLazy(name), `${name} is lazy in a fresh context`);

  // Bodies made of strings and bytes, read whole, never make a stream.
  const response = new Response('Hello World');
  assertEquals(response.bodyUsed, false);
  assertEquals(await response.text(), 'Hello World');
  const request = new Request('https://h.test/', { method: 'POST', body: new Uint8Array([1, 2]) });
  assertEquals((await request.arrayBuffer()).byteLength, 2);
  assertEquals(await Response.json({ a: 1 }).json().then((v) => v.a), 1);
  assertEquals(await new Blob(['ab']).text(), 'ab');
  for (const name of kNames) assert(isStillLazy(name), `${name} is still lazy after whole reads`);

  // The first stream comes from a body: the global made afterwards is its class.
  const body = new Response('streamed').body;
  assert(isStillLazy('ReadableStream'), 'reading .body does not define the global');
  assertEquals(body instanceof ReadableStream, true);
  assertEquals(isStillLazy('ReadableStream'), false);
  assertEquals(globalThis.ReadableStream, ReadableStream);
  const descriptor = Object.getOwnPropertyDescriptor(globalThis, 'ReadableStream');
  assertEquals(descriptor.value, ReadableStream);
  assertEquals(descriptor.writable && descriptor.configurable && !descriptor.enumerable, true);
  const reader = body.getReader();
  assertEquals(reader instanceof ReadableStreamDefaultReader, true);
  const { value } = await reader.read();
  assertEquals(new TextDecoder().decode(value), 'streamed');

  // A stream made by the script is a body like any other, and round-trips through Response.
  const made = new ReadableStream({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('from a stream'));
      controller.close();
    },
  });
  const echoed = new Response(made);
  assertEquals(echoed.body, made);
  assertEquals(await new Response(echoed.body).text(), 'from a stream');

  // Transform streams made by runtime classes are the global classes' instances.
  const encoder = new TextEncoderStream();
  assertEquals(encoder.readable instanceof ReadableStream, true);
  assertEquals(encoder.writable instanceof WritableStream, true);
  const gzip = new CompressionStream('gzip');
  assertEquals(gzip.readable instanceof ReadableStream, true);
  assertEquals(new TransformStream().readable.getReader() instanceof ReadableStreamDefaultReader,
               true);
  assertEquals(new Blob(['x']).stream() instanceof ReadableStream, true);
  const clone = new Response('c').clone();
  assertEquals(clone.body instanceof ReadableStream, true);
}
