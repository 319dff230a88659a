// Crypto and Performance as interfaces (globals whose constructors throw), and
// crypto.getRandomValues' TypeMismatchError for arrays that are not integer typed arrays.
import { assert, assertEquals, assertThrows } from './lib/assert.js';

export function cryptoIsACrypto() {
  assertEquals(typeof Crypto, 'function');
  assert(crypto instanceof Crypto, 'crypto instanceof Crypto');
  assertEquals(Object.getPrototypeOf(crypto), Crypto.prototype);
  assertEquals(typeof Crypto.prototype.getRandomValues, 'function');
  assertEquals(typeof Crypto.prototype.randomUUID, 'function');
  assertThrows(() => new Crypto(), TypeError);
  assertEquals(Object.prototype.toString.call(crypto), '[object Crypto]');
  assertEquals(Object.getOwnPropertyDescriptor(globalThis, 'Crypto').enumerable, false);
}

export function performanceIsAPerformance() {
  assertEquals(typeof Performance, 'function');
  assert(performance instanceof Performance, 'performance instanceof Performance');
  assertThrows(() => new Performance(), TypeError);
  assertEquals(typeof Performance.prototype.now, 'function');
  assertEquals(Object.prototype.toString.call(performance), '[object Performance]');
  assertEquals(typeof performance.timeOrigin, 'number');
  assertEquals(performance.toJSON().timeOrigin, performance.timeOrigin);
}

export function getRandomValuesFloatArraysAreTypeMismatch() {
  for (const make of [() => new Float32Array(4), () => new Float64Array(4),
                      () => new DataView(new ArrayBuffer(4))]) {
    let caught = null;
    try {
      crypto.getRandomValues(make());
    } catch (error) {
      caught = error;
    }
    assert(caught instanceof DOMException, `a DOMException, got ${caught}`);
    assertEquals(caught.name, 'TypeMismatchError');
    assertEquals(caught.code, 17);
  }
  // Not an ArrayBufferView at all: WebIDL's conversion fails first, with a TypeError.
  assertThrows(() => crypto.getRandomValues(new ArrayBuffer(4)), TypeError);
  assertThrows(() => crypto.getRandomValues([1, 2]), TypeError);
}
