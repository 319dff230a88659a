// crypto.subtle, SubtleCrypto and CryptoKey are loaded on first use (worker/js/subtle_lazy.js):
// until then they are accessors, replaced on first read by the data properties they would
// otherwise be, and whichever is read first, the classes and instances agree. One test, because
// each file gets one fresh context and the order of first uses is what is checked.
import { assertEquals } from './lib/assert.js';

export async function subtleLoadsOnFirstUse() {
  const lazy = (object, name) =>
    typeof Object.getOwnPropertyDescriptor(object, name).get === 'function';
  assertEquals(lazy(crypto, 'subtle'), true);
  assertEquals(lazy(globalThis, 'SubtleCrypto'), true);
  assertEquals(lazy(globalThis, 'CryptoKey'), true);
  assertEquals(typeof crypto.randomUUID(), 'string');
  assertEquals(lazy(crypto, 'subtle'), true, 'other crypto members leave subtle alone');

  // CryptoKey first: the class exists before any key does.
  const Key = CryptoKey;
  assertEquals(lazy(globalThis, 'CryptoKey'), false);
  const subtle = crypto.subtle;
  assertEquals(crypto.subtle, subtle, 'the same object each time');
  const descriptor = Object.getOwnPropertyDescriptor(crypto, 'subtle');
  assertEquals(descriptor.value, subtle);
  assertEquals(descriptor.enumerable, true);
  assertEquals(descriptor.writable || descriptor.configurable, false);
  assertEquals(subtle instanceof SubtleCrypto, true);
  assertEquals(globalThis.SubtleCrypto, SubtleCrypto);
  const key = await subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, true, ['sign']);
  assertEquals(key instanceof Key, true);
  assertEquals(Object.prototype.toString.call(key), '[object CryptoKey]');
  const digest = await subtle.digest('SHA-256', new Uint8Array(0));
  assertEquals(digest.byteLength, 32);
}
