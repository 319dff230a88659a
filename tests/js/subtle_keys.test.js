// CryptoKey: its attributes, that scripts cannot construct one, and that changing what a
// script sees (algorithm, usages, own properties) changes nothing the operations check.
import { assert, assertEquals, assertThrows } from './lib/assert.js';
import { rejectsWith, toHex, utf8 } from './lib/subtle_helpers.js';

const subtle = crypto.subtle;

export async function cryptoKeyAttributes() {
  const key = await subtle.generateKey({ name: 'AES-GCM', length: 128 }, false,
                                       ['decrypt', 'encrypt', 'decrypt']);
  assert(key instanceof CryptoKey, 'instanceof CryptoKey');
  assertEquals(Object.prototype.toString.call(key), '[object CryptoKey]');
  assertEquals(key.type, 'secret');
  assertEquals(key.extractable, false);
  assertEquals(key.algorithm, key.algorithm, 'the same algorithm object each time');
  assertEquals(key.usages, key.usages, 'the same usages array each time');
  assertEquals(key.usages.join(), 'encrypt,decrypt');
  assertEquals(Object.keys(key).length, 0, 'no own properties');
  const enumerable = [];
  for (const name in key) enumerable.push(name);
  assertEquals(enumerable.sort().join(), 'algorithm,extractable,type,usages');
  assertThrows(() => new CryptoKey(), TypeError);
  const getter = Object.getOwnPropertyDescriptor(CryptoKey.prototype, 'type').get;
  assertThrows(() => getter.call({}), TypeError);
}

export async function mutatingWhatScriptsSeeChangesNothing() {
  const key = await subtle.importKey('raw', utf8('0123456789abcdef'), 'AES-CBC', false,
                                     ['encrypt']);
  key.usages.push('decrypt');
  key.algorithm.name = 'AES-GCM';
  Object.defineProperty(key, 'extractable', { value: true });
  Object.defineProperty(key, 'usages', { value: ['encrypt', 'decrypt'] });
  const iv = new Uint8Array(16);
  await rejectsWith(subtle.decrypt({ name: 'AES-CBC', iv }, key, new Uint8Array(16)),
                    'InvalidAccessError', 'usages pushed by a script');
  await rejectsWith(subtle.encrypt({ name: 'AES-GCM', iv }, key, new Uint8Array(16)),
                    'InvalidAccessError', 'algorithm renamed by a script');
  await rejectsWith(subtle.exportKey('raw', key), 'InvalidAccessError', 'still not extractable');
  const sealed = await subtle.encrypt({ name: 'AES-CBC', iv }, key, new Uint8Array(16));
  assertEquals(sealed.byteLength, 32, 'still an AES-CBC key');
}

export async function rsaAlgorithmExponentIsACopy() {
  const { publicKey } = await subtle.generateKey(
      { name: 'RSASSA-PKCS1-v1_5', modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]),
        hash: 'SHA-256' }, true, ['verify', 'sign']);
  publicKey.algorithm.publicExponent[0] = 9;
  publicKey.algorithm.hash.name = 'SHA-1';
  const jwk = await subtle.exportKey('jwk', publicKey);
  assertEquals(jwk.alg, 'RS256', 'the hash the key was made for');
  assertEquals(jwk.e, 'AQAB');
}

export async function everyMethodReturnsAPromiseEvenOnBadArguments() {
  for (const name of ['encrypt', 'decrypt', 'sign', 'verify', 'digest', 'generateKey',
                      'deriveKey', 'deriveBits', 'importKey', 'exportKey', 'wrapKey',
                      'unwrapKey']) {
    const result = subtle[name]();
    assert(result instanceof Promise, `${name} returns a promise`);
    await rejectsWith(result, 'TypeError', name);
  }
}

export async function unknownAlgorithmsAndFormats() {
  await rejectsWith(subtle.generateKey('RSA-ES', true, ['encrypt']), 'NotSupportedError',
                    'unknown name');
  await rejectsWith(subtle.generateKey('HKDF', false, ['deriveBits']), 'NotSupportedError',
                    'HKDF has no generateKey');
  await rejectsWith(subtle.encrypt('HMAC', {}, new Uint8Array(1)), 'TypeError',
                    'key conversion comes first');
  await rejectsWith(subtle.importKey('der', new Uint8Array(1), 'AES-GCM', true, ['encrypt']),
                    'TypeError', 'unknown KeyFormat');
  await rejectsWith(subtle.importKey('raw', new Uint8Array(16), 'AES-GCM', true, 'encrypt'),
                    'TypeError', 'usages must be a sequence');
  const key = await subtle.importKey('raw', new Uint8Array(16), 'AES-GCM', true, ['encrypt']);
  await rejectsWith(subtle.exportKey('spki', key), 'NotSupportedError', 'spki of a secret key');
  assertEquals(toHex(await subtle.exportKey('raw', key)), '00'.repeat(16));
}
