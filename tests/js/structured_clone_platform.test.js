// structuredClone of the runtime's serializable platform objects: DOMException and CryptoKey
// (worker/js/host_object.js), on their own, nested, shared and through postMessage.
import { assert, assertArrayEquals, assertEquals, assertThrows } from './lib/assert.js';

export function domExceptionKeepsNameAndMessage() {
  const original = new DOMException('it broke', 'NotFoundError');
  const copy = structuredClone(original);
  assert(copy !== original, 'a new object');
  assert(copy instanceof DOMException, 'a DOMException');
  assert(copy instanceof Error, 'still an Error');
  assertEquals(copy.name, 'NotFoundError');
  assertEquals(copy.message, 'it broke');
  assertEquals(copy.code, 8);
  assertEquals(Object.prototype.toString.call(copy), '[object DOMException]');
}

export function nestedAndSharedReferences() {
  const error = new DOMException('shared', 'AbortError');
  const copy = structuredClone({ a: error, b: [error], c: new Map([['e', error]]) });
  assert(copy.a instanceof DOMException, 'nested');
  assertEquals(copy.a, copy.b[0], 'one copy for one original');
  assertEquals(copy.a, copy.c.get('e'));
  assertEquals(copy.a.name, 'AbortError');
}

export function subclassesCloneAsDOMException() {
  class MyError extends DOMException {}
  const mine = new MyError('sub', 'SyntaxError');
  assert(mine instanceof MyError && mine instanceof DOMException, 'subclassing works');
  const copy = structuredClone(mine);
  assertEquals(Object.getPrototypeOf(copy), DOMException.prototype);
  assertEquals(copy.name, 'SyntaxError');
}

export async function cryptoKeyKeepsItsSlots() {
  const key = await crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, true,
                                              ['sign', 'verify']);
  const copy = structuredClone(key);
  assert(copy !== key, 'a new object');
  assert(copy instanceof CryptoKey, 'a CryptoKey');
  assertEquals(copy.type, 'secret');
  assertEquals(copy.extractable, true);
  assertEquals(copy.algorithm.name, 'HMAC');
  assertEquals(copy.algorithm.hash.name, 'SHA-256');
  assertArrayEquals(copy.usages, ['sign', 'verify']);
  // The copy works with the same material.
  const data = new TextEncoder().encode('message');
  const signature = await crypto.subtle.sign('HMAC', key, data);
  assertEquals(await crypto.subtle.verify('HMAC', copy, signature, data), true);
  const raw = new Uint8Array(await crypto.subtle.exportKey('raw', key));
  assertArrayEquals(new Uint8Array(await crypto.subtle.exportKey('raw', copy)), raw);
}

export async function nonExtractableKeyPairClones() {
  const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false,
                                               ['sign', 'verify']);
  const copy = structuredClone(pair);
  assertEquals(copy.privateKey.extractable, false);
  assertEquals(copy.privateKey.type, 'private');
  assertEquals(copy.publicKey.algorithm.namedCurve, 'P-256');
  const data = new Uint8Array([1, 2, 3]);
  const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, copy.privateKey,
                                             data);
  assertEquals(await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, pair.publicKey,
                                          signature, data), true);
}

export async function postMessageCarriesThem() {
  const { port1, port2 } = new MessageChannel();
  const received = new Promise((resolve) => {
    port2.onmessage = (event) => resolve(event.data);
  });
  port1.postMessage({ error: new DOMException('over the port', 'DataError') });
  const data = await received;
  assert(data.error instanceof DOMException, 'a DOMException');
  assertEquals(data.error.message, 'over the port');
  port1.close();
}

export function otherObjectsStillClonePlainly() {
  const copy = structuredClone({ when: new Date(5), list: [1, 2] });
  assertEquals(copy.when.getTime(), 5);
  assertThrows(() => structuredClone({ f() {} }), 'DataCloneError');
}
