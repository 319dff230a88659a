// structuredClone (HTML), through V8's ValueSerializer.
import { assert, assertArrayEquals, assertEquals, assertThrows } from './lib/assert.js';

export function clonesPrimitivesAndPlainObjects() {
  for (const value of [undefined, null, true, 0, -0, NaN, 1.5, 'text', 10n]) {
    assert(Object.is(structuredClone(value), value), String(value));
  }
  const source = { a: 1, nested: { b: [1, 2, { c: 'x' }] } };
  const copy = structuredClone(source);
  assert(copy !== source && copy.nested !== source.nested, 'a deep copy');
  assertEquals(JSON.stringify(copy), JSON.stringify(source));
}

export function clonesBuiltInTypes() {
  const date = new Date(1700000000000);
  const copyDate = structuredClone(date);
  assert(copyDate instanceof Date && copyDate !== date);
  assertEquals(copyDate.getTime(), date.getTime());

  const regexp = structuredClone(/ab+c/gi);
  assert(regexp instanceof RegExp);
  assertEquals(regexp.source, 'ab+c');
  assertEquals(regexp.flags, 'gi');

  const map = structuredClone(new Map([[1, 'one'], ['k', { v: 2 }]]));
  assert(map instanceof Map);
  assertEquals(map.get(1), 'one');
  assertEquals(map.get('k').v, 2);

  const set = structuredClone(new Set([1, 'two', 3]));
  assert(set instanceof Set);
  assertArrayEquals([...set], [1, 'two', 3]);

  const boxed = structuredClone(new String('boxed'));
  assert(boxed instanceof String);
  assertEquals(boxed.valueOf(), 'boxed');
}

export function clonesBinaryData() {
  const buffer = new Uint8Array([1, 2, 3, 4]).buffer;
  const copy = structuredClone(buffer);
  assert(copy instanceof ArrayBuffer && copy !== buffer);
  assertArrayEquals(new Uint8Array(copy), [1, 2, 3, 4]);
  new Uint8Array(buffer)[0] = 9;
  assertEquals(new Uint8Array(copy)[0], 1, 'the copy does not share memory');

  const view = new Int16Array([1, -2, 3]);
  const copyView = structuredClone(view);
  assert(copyView instanceof Int16Array);
  assertArrayEquals(copyView, [1, -2, 3]);

  // Two views of one buffer stay views of one (copied) buffer.
  const shared = new ArrayBuffer(8);
  const pair = structuredClone({ x: new Uint8Array(shared), y: new Uint8Array(shared, 4) });
  assertEquals(pair.x.buffer, pair.y.buffer);
}

export function preservesCyclesAndSharing() {
  const node = { name: 'root' };
  node.self = node;
  node.list = [node, node];
  const copy = structuredClone(node);
  assertEquals(copy.self, copy);
  assertEquals(copy.list[0], copy);
  assertEquals(copy.list[1], copy);
  const inner = {};
  const twice = structuredClone({ a: inner, b: inner });
  assertEquals(twice.a, twice.b, 'shared references stay shared');
}

export function clonesErrors() {
  const copy = structuredClone(new RangeError('out of range'));
  assert(copy instanceof RangeError, 'the error type is kept');
  assertEquals(copy.message, 'out of range');
}

export function dropsPrototypesAndNonEnumerables() {
  class Point {
    constructor() {
      this.x = 1;
    }
    get sum() {
      return this.x;
    }
  }
  const copy = structuredClone(new Point());
  assertEquals(Object.getPrototypeOf(copy), Object.prototype);
  assertEquals(copy.x, 1);
  const hidden = Object.defineProperty({}, 'secret', { value: 1, enumerable: false });
  assertEquals('secret' in structuredClone(hidden), false);
}

export function throwsDataCloneError() {
  assertThrows(() => structuredClone(() => 1), 'DataCloneError', 'function');
  assertThrows(() => structuredClone(Symbol('s')), 'DataCloneError', 'symbol');
  assertThrows(() => structuredClone({ nested: { fn() {} } }), 'DataCloneError', 'nested method');
  assertThrows(() => structuredClone(new WeakMap()), 'DataCloneError', 'WeakMap');
  assertThrows(() => structuredClone(Promise.resolve()), 'DataCloneError', 'Promise');
  assertThrows(() => structuredClone(), TypeError, 'the argument is required');
}

export function propagatesGetterExceptions() {
  const value = { get boom() { throw new URIError('from getter'); } };
  assertThrows(() => structuredClone(value), URIError);
}

export function transfersArrayBuffers() {
  const buffer = new Uint8Array([1, 2, 3]).buffer;
  const view = new Uint8Array(buffer, 1);
  const copy = structuredClone({ buffer, view }, { transfer: [buffer] });
  assertEquals(buffer.byteLength, 0, 'the original is detached');
  assertEquals(view.byteLength, 0, 'views of the original see no bytes');
  assertArrayEquals(new Uint8Array(copy.buffer), [1, 2, 3]);
  assertEquals(copy.view.buffer, copy.buffer, 'views follow their buffer');
  assertArrayEquals(copy.view, [2, 3]);

  // A buffer transferred but not referenced by the value is still detached.
  const unused = new ArrayBuffer(4);
  assertEquals(structuredClone('x', { transfer: [unused] }), 'x');
  assertEquals(unused.byteLength, 0);

  // The transferred buffer is the same memory, not a copy: the result is the moved buffer.
  const direct = new ArrayBuffer(8);
  const moved = structuredClone(direct, { transfer: [direct] });
  assertEquals(moved.byteLength, 8);
  assertEquals(direct.byteLength, 0);
}

export function transferOptionsAreChecked() {
  assertEquals(structuredClone(1, undefined), 1);
  assertEquals(structuredClone(1, null), 1);
  assertEquals(structuredClone(1, {}), 1);
  assertEquals(structuredClone(1, { transfer: [] }), 1);
  assertThrows(() => structuredClone(1, { transfer: 5 }), TypeError, 'not a sequence');
  assertThrows(() => structuredClone(1, { transfer: [1] }), TypeError, 'not an object');
  assertThrows(() => structuredClone(1, 'options'), TypeError, 'options not an object');
}

export function untransferableThingsAreDataCloneErrors() {
  const buffer = new ArrayBuffer(4);
  assertThrows(() => structuredClone(buffer, { transfer: [buffer, buffer] }), 'DataCloneError',
               'a buffer named twice');
  assertEquals(buffer.byteLength, 4, 'a refused transfer detaches nothing');
  assertThrows(() => structuredClone(1, { transfer: [{}] }), 'DataCloneError', 'a plain object');
  assertThrows(() => structuredClone(1, { transfer: [new Uint8Array(2)] }), 'DataCloneError',
               'a view, not a buffer');
  const { port1 } = new MessageChannel();
  assertThrows(() => structuredClone(1, { transfer: [port1] }), 'DataCloneError', 'a port');
  // A value that cannot be cloned leaves the transfer list untouched.
  const kept = new ArrayBuffer(2);
  assertThrows(() => structuredClone({ f() {} }, { transfer: [kept] }), 'DataCloneError');
  assertEquals(kept.byteLength, 2);
  // A detached buffer cannot be transferred again.
  const once = new ArrayBuffer(1);
  structuredClone(once, { transfer: [once] });
  assertThrows(() => structuredClone(1, { transfer: [once] }), 'DataCloneError', 'detached');
  try {
    structuredClone(1, { transfer: [{}] });
  } catch (error) {
    assert(error instanceof DOMException, 'a DOMException');
  }
}

export function wasmMemoryBuffersCannotBeTransferred() {
  const memory = new WebAssembly.Memory({ initial: 1 });
  assertThrows(() => structuredClone(1, { transfer: [memory.buffer] }), TypeError);
  assertEquals(memory.buffer.byteLength, 65536);
}
