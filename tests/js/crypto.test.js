// crypto.getRandomValues and crypto.randomUUID (W3C WebCrypto).
import { assert, assertEquals, assertThrows } from './lib/assert.js';

export function getRandomValuesFillsAndReturnsTheSameArray() {
  const array = new Uint8Array(64);
  const result = crypto.getRandomValues(array);
  assertEquals(result, array, 'returns its argument');
  assert(array.some((b) => b !== 0), 'some byte is non-zero (64 zero bytes: p = 2^-512)');
}

export function getRandomValuesAcceptsEveryIntegerType() {
  for (const Type of [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array,
                      Uint32Array, BigInt64Array, BigUint64Array]) {
    const array = new Type(8);
    assertEquals(crypto.getRandomValues(array), array, Type.name);
  }
}

export function getRandomValuesRespectsViewBounds() {
  const buffer = new Uint8Array(32);
  crypto.getRandomValues(new Uint8Array(buffer.buffer, 8, 16));
  assert(buffer.subarray(0, 8).every((b) => b === 0), 'bytes before the view untouched');
  assert(buffer.subarray(24).every((b) => b === 0), 'bytes after the view untouched');
}

export function getRandomValuesRejectsNonIntegerArrays() {
  // A view that is not an integer typed array: TypeMismatchError (platform_interfaces.test.js).
  assertThrows(() => crypto.getRandomValues(new Float32Array(4)), 'TypeMismatchError');
  assertThrows(() => crypto.getRandomValues(new Float64Array(4)), 'TypeMismatchError');
  assertThrows(() => crypto.getRandomValues(new DataView(new ArrayBuffer(4))),
               'TypeMismatchError');
  assertThrows(() => crypto.getRandomValues(new ArrayBuffer(4)), TypeError);
  assertThrows(() => crypto.getRandomValues([1, 2, 3]), TypeError);
  assertThrows(() => crypto.getRandomValues(), TypeError);
}

export function getRandomValuesQuota() {
  crypto.getRandomValues(new Uint8Array(65536));
  crypto.getRandomValues(new Uint32Array(16384));
  assertThrows(() => crypto.getRandomValues(new Uint8Array(65537)), 'QuotaExceededError');
  assertThrows(() => crypto.getRandomValues(new Uint32Array(16385)), 'QuotaExceededError');
  crypto.getRandomValues(new Uint8Array(0));
}

export function randomUUIDIsVersion4() {
  const pattern = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  const seen = new Set();
  for (let i = 0; i < 100; i++) {
    const uuid = crypto.randomUUID();
    assertEquals(typeof uuid, 'string');
    assert(pattern.test(uuid), `not a v4 UUID: ${uuid}`);
    seen.add(uuid);
  }
  assertEquals(seen.size, 100, 'no duplicates');
}

export function cryptoShape() {
  assertEquals(typeof globalThis.crypto, 'object');
  assertEquals(Object.prototype.toString.call(crypto), '[object Crypto]');
  assertEquals(typeof crypto.getRandomValues, 'function');
  assertEquals(typeof crypto.randomUUID, 'function');
}
