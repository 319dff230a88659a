// ReadableStream, WritableStream, TransformStream and the queuing strategies
// (https://streams.spec.whatwg.org/): reader and writer semantics, backpressure, piping, errors,
// cancellation, byte streams with BYOB readers, and tee.
import { assert, assertArrayEquals, assertEquals, assertRejects,
         assertThrows } from './lib/assert.js';

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

async function collect(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

export function globalsExist() {
  for (const name of ['ReadableStream', 'ReadableStreamDefaultReader', 'ReadableStreamBYOBReader',
                      'ReadableStreamBYOBRequest', 'ReadableStreamDefaultController',
                      'ReadableByteStreamController', 'WritableStream',
                      'WritableStreamDefaultWriter', 'WritableStreamDefaultController',
                      'TransformStream', 'TransformStreamDefaultController',
                      'ByteLengthQueuingStrategy', 'CountQueuingStrategy']) {
    assertEquals(typeof globalThis[name], 'function', `${name} is a global class`);
    assertEquals(Object.getOwnPropertyDescriptor(globalThis, name).enumerable, false);
  }
  assertEquals(Object.prototype.toString.call(new ReadableStream()), '[object ReadableStream]');
  assertThrows(() => new ReadableStreamDefaultController(), TypeError, 'illegal constructor');
}

export async function readerReadsInOrderThenDone() {
  const stream = new ReadableStream({
    start(controller) {
      controller.enqueue('a');
      controller.enqueue('b');
      controller.close();
    },
  });
  const reader = stream.getReader();
  assert(stream.locked, 'getReader locks the stream');
  assertThrows(() => stream.getReader(), TypeError, 'a second reader');
  assertEquals((await reader.read()).value, 'a');
  assertEquals((await reader.read()).value, 'b');
  const end = await reader.read();
  assertEquals(end.done, true);
  assertEquals(end.value, undefined);
  await reader.closed;
  reader.releaseLock();
  assertEquals(stream.locked, false);
}

export async function pullIsCalledOnDemand() {
  let pulls = 0;
  const stream = new ReadableStream({
    pull(controller) {
      pulls += 1;
      controller.enqueue(pulls);
      if (pulls === 3) controller.close();
    },
  }, { highWaterMark: 0 });
  await tick();
  assertEquals(pulls, 0, 'highWaterMark 0: nothing is pulled before a read');
  assertArrayEquals(await collect(stream), [1, 2, 3]);
}

export async function readableDesiredSizeFollowsTheQueue() {
  let controller;
  const stream = new ReadableStream({ start(c) { controller = c; } },
                                    new CountQueuingStrategy({ highWaterMark: 2 }));
  assertEquals(controller.desiredSize, 2);
  controller.enqueue('x');
  assertEquals(controller.desiredSize, 1);
  controller.enqueue('y');
  controller.enqueue('z');
  assertEquals(controller.desiredSize, -1, 'over the high-water mark');
  const reader = stream.getReader();
  await reader.read();
  assertEquals(controller.desiredSize, 0);
}

export async function readableErrorRejectsReads() {
  const boom = new Error('boom');
  const stream = new ReadableStream({ start(c) { c.error(boom); } });
  const reader = stream.getReader();
  let caught = null;
  try {
    await reader.read();
  } catch (error) {
    caught = error;
  }
  assertEquals(caught, boom);
  await assertRejects(() => reader.closed, Error);
}

export async function cancelReachesTheSource() {
  let reason = null;
  const stream = new ReadableStream({
    pull(c) { c.enqueue('chunk'); },
    cancel(r) { reason = r; },
  });
  const reader = stream.getReader();
  await reader.read();
  await reader.cancel('enough');
  assertEquals(reason, 'enough');
  assertEquals((await reader.read()).done, true, 'a cancelled stream reads as closed');
}

export async function asyncIterationAndReturnCancels() {
  let cancelled = false;
  let n = 0;
  const stream = new ReadableStream({
    pull(c) { c.enqueue(++n); },
    cancel() { cancelled = true; },
  });
  const seen = [];
  for await (const value of stream) {
    seen.push(value);
    if (value === 3) break;
  }
  assertArrayEquals(seen, [1, 2, 3]);
  assert(cancelled, 'breaking out of for-await cancels the stream');
}

export async function readableStreamFrom() {
  assertEquals(typeof ReadableStream.from, 'function');
  async function* gen() {
    yield 1;
    yield 2;
  }
  assertArrayEquals(await collect(ReadableStream.from(gen())), [1, 2]);
  assertArrayEquals(await collect(ReadableStream.from(['x', 'y'])), ['x', 'y']);
  assertThrows(() => ReadableStream.from(42), TypeError);
}

export async function writerBackpressure() {
  const written = [];
  let release;
  const sink = {
    write(chunk) {
      written.push(chunk);
      return new Promise((resolve) => { release = resolve; });
    },
  };
  const stream = new WritableStream(sink, new CountQueuingStrategy({ highWaterMark: 2 }));
  const writer = stream.getWriter();
  assert(stream.locked);
  assertEquals(writer.desiredSize, 2);
  await writer.ready;
  const w1 = writer.write('a');
  const w2 = writer.write('b');
  const w3 = writer.write('c');
  assertEquals(writer.desiredSize, -1, 'three queued against a high-water mark of 2');
  let ready = false;
  writer.ready.then(() => { ready = true; });
  await tick();
  assertEquals(ready, false, 'ready waits while the queue is over the mark');
  assertArrayEquals(written, ['a'], 'one write at a time reaches the sink');
  release();
  await w1;
  await tick();
  release();
  await w2;
  await tick();
  assertEquals(ready, true, 'ready resolves once the queue drains below the mark');
  release();
  await w3;
  await writer.close();
  assertArrayEquals(written, ['a', 'b', 'c']);
}

export async function writableErrorAndAbort() {
  const stream = new WritableStream({
    write() { throw new TypeError('sink refused'); },
  });
  const writer = stream.getWriter();
  await assertRejects(() => writer.write('x'), TypeError);
  await assertRejects(() => writer.closed, TypeError);
  let aborted = null;
  const other = new WritableStream({ abort(reason) { aborted = reason; } });
  await other.abort('stop');
  assertEquals(aborted, 'stop');
}

export async function pipeToASlowSink() {
  const total = 20;
  let pulled = 0;
  const source = new ReadableStream({
    pull(c) {
      pulled += 1;
      c.enqueue(pulled);
      if (pulled === total) c.close();
    },
  }, { highWaterMark: 0 });
  const received = [];
  let maxAhead = 0;
  const sink = new WritableStream({
    async write(chunk) {
      maxAhead = Math.max(maxAhead, pulled - received.length);
      await new Promise((resolve) => setTimeout(resolve, 1));
      received.push(chunk);
    },
  }, { highWaterMark: 1 });
  await source.pipeTo(sink);
  assertEquals(received.length, total);
  assertArrayEquals(received, Array.from({ length: total }, (_, i) => i + 1));
  assert(maxAhead <= 3, `backpressure: the source ran at most 3 chunks ahead (ran ${maxAhead})`);
}

export async function pipeToPropagatesErrors() {
  const boom = new Error('source failed');
  let abortReason = null;
  const failing = new ReadableStream({ start(c) { c.enqueue(1); c.error(boom); } });
  const sink = new WritableStream({ abort(reason) { abortReason = reason; } });
  let caught = null;
  await failing.pipeTo(sink).catch((error) => { caught = error; });
  assertEquals(caught, boom);
  assertEquals(abortReason, boom, 'a source error aborts the destination');

  let cancelReason = null;
  const source = new ReadableStream({ pull(c) { c.enqueue(1); }, cancel(r) { cancelReason = r; } });
  const refusing = new WritableStream({ write() { throw boom; } });
  caught = null;
  await source.pipeTo(refusing).catch((error) => { caught = error; });
  assertEquals(caught, boom);
  assertEquals(cancelReason, boom, 'a destination error cancels the source');
}

export async function pipeThroughATransform() {
  const upper = new TransformStream({
    transform(chunk, controller) { controller.enqueue(String(chunk).toUpperCase()); },
    flush(controller) { controller.enqueue('!'); },
  });
  const out = ReadableStream.from(['a', 'b']).pipeThrough(upper);
  assertArrayEquals(await collect(out), ['A', 'B', '!']);
}

export async function transformErrorsBothSides() {
  const ts = new TransformStream({ transform() { throw new RangeError('bad chunk'); } });
  const writer = ts.writable.getWriter();
  const reader = ts.readable.getReader();
  const read = reader.read();  // a pending read lifts the backpressure that holds the write
  await assertRejects(() => writer.write('x'), RangeError);
  await assertRejects(() => read, RangeError);
  await assertRejects(() => reader.read(), RangeError);
}

export async function byteStreamWithByobReader() {
  let offset = 0;
  const data = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  const stream = new ReadableStream({
    type: 'bytes',
    pull(controller) {
      const request = controller.byobRequest;
      if (offset >= data.length) {
        controller.close();
        if (request) request.respond(0);
        return;
      }
      if (request) {
        const n = Math.min(request.view.byteLength, data.length - offset, 4);
        request.view.set(data.subarray(offset, offset + n));
        offset += n;
        request.respond(n);
      } else {
        controller.enqueue(data.slice(offset, offset + 4));
        offset += 4;
      }
    },
  });
  const reader = stream.getReader({ mode: 'byob' });
  assert(reader instanceof ReadableStreamBYOBReader);
  const got = [];
  let buffer = new ArrayBuffer(3);
  for (;;) {
    const { done, value } = await reader.read(new Uint8Array(buffer));
    if (done) break;
    assert(value instanceof Uint8Array);
    assert(value.byteLength <= 3, 'a BYOB read fills at most the view it was given');
    got.push(...value);
    buffer = value.buffer;  // the buffer comes back with the filled view
  }
  assertArrayEquals(got, data);
}

export async function byteStreamWithDefaultReader() {
  const stream = new ReadableStream({
    type: 'bytes',
    start(controller) {
      controller.enqueue(new Uint8Array([1, 2]));
      controller.enqueue(new Uint8Array([3]));
      controller.close();
    },
  });
  const chunks = await collect(stream);
  assertArrayEquals(chunks.flatMap((c) => Array.from(c)), [1, 2, 3]);
  assertThrows(() => new ReadableStream().getReader({ mode: 'byob' }), TypeError,
               'BYOB readers need a byte stream');
}

export async function teeGivesBothBranchesEveryChunk() {
  const [a, b] = ReadableStream.from(['x', 'y', 'z']).tee();
  const [ra, rb] = await Promise.all([collect(a), collect(b)]);
  assertArrayEquals(ra, ['x', 'y', 'z']);
  assertArrayEquals(rb, ['x', 'y', 'z']);
}

export async function teeCancelsSourceOnlyWhenBothBranchesCancel() {
  let reason = null;
  const source = new ReadableStream({ pull(c) { c.enqueue(1); }, cancel(r) { reason = r; } });
  const [a, b] = source.tee();
  const cancelA = a.cancel('a');  // settles only once both branches are cancelled
  await tick();
  assertEquals(reason, null, 'one branch cancelled: the source goes on');
  await Promise.all([cancelA, b.cancel('b')]);
  assert(Array.isArray(reason), 'both cancelled: the source gets both reasons');
  assertArrayEquals(reason, ['a', 'b']);
}

export function queuingStrategies() {
  const bytes = new ByteLengthQueuingStrategy({ highWaterMark: 16 });
  assertEquals(bytes.highWaterMark, 16);
  assertEquals(bytes.size(new Uint8Array(5)), 5);
  const count = new CountQueuingStrategy({ highWaterMark: 3 });
  assertEquals(count.highWaterMark, 3);
  assertEquals(count.size('anything'), 1);
  assertThrows(() => new CountQueuingStrategy(), TypeError);
}

export async function pipeAbortIsADomException() {
  // An already-aborted signal without a reason: the pipe makes its own AbortError.
  const signal = {
    aborted: true, reason: undefined, addEventListener() {}, removeEventListener() {},
  };
  let caught = null;
  await ReadableStream.from([1]).pipeTo(new WritableStream(), { signal })
      .catch((error) => { caught = error; });
  assert(caught instanceof DOMException, `an AbortError DOMException, got ${caught}`);
  assertEquals(caught.name, 'AbortError');
}
