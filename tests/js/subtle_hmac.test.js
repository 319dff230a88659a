// crypto.subtle HMAC: RFC 4231 known answers, verification, key import/export in raw and jwk,
// generation, and the spec's errors.
import { assert, assertEquals } from './lib/assert.js';
import { assertBytes, fromHex, rejectsWith, toHex, utf8 } from './lib/subtle_helpers.js';

const subtle = crypto.subtle;

// RFC 4231 test cases 1 and 2.
const kCase1 = {
  key: fromHex('0b'.repeat(20)),
  data: utf8('Hi There'),
  'SHA-256': 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7',
  'SHA-384': 'afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c' +
             'faea9ea9076ede7f4af152e8b2fa9cb6',
  'SHA-512': '87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde' +
             'daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854',
};
const kCase2Sha256 = '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843';

function importHmac(key, hash, usages = ['sign', 'verify'], extractable = true) {
  return subtle.importKey('raw', key, { name: 'HMAC', hash }, extractable, usages);
}

export async function hmacMatchesRfc4231() {
  for (const hash of ['SHA-256', 'SHA-384', 'SHA-512']) {
    const key = await importHmac(kCase1.key, hash);
    assertBytes(await subtle.sign('HMAC', key, kCase1.data), kCase1[hash], hash);
  }
  const jefe = await importHmac(utf8('Jefe'), { name: 'SHA-256' });
  assertBytes(await subtle.sign({ name: 'hmac' }, jefe, utf8('what do ya want for nothing?')),
              kCase2Sha256, 'case 2');
}

export async function hmacVerifies() {
  const key = await importHmac(kCase1.key, 'SHA-256');
  const mac = fromHex(kCase1['SHA-256']);
  assertEquals(await subtle.verify('HMAC', key, mac, kCase1.data), true, 'correct');
  mac[0] ^= 1;
  assertEquals(await subtle.verify('HMAC', key, mac, kCase1.data), false, 'altered');
  assertEquals(await subtle.verify('HMAC', key, mac.subarray(1), kCase1.data), false, 'short');
}

export async function hmacKeyShapeAndJwkRoundTrip() {
  const key = await importHmac(kCase1.key, 'SHA-1', ['verify', 'sign', 'sign']);
  assertEquals(key.type, 'secret');
  assertEquals(key.extractable, true);
  assertEquals(key.algorithm.name, 'HMAC');
  assertEquals(key.algorithm.hash.name, 'SHA-1');
  assertEquals(key.algorithm.length, 160);
  assertEquals(key.usages.join(), 'sign,verify', 'deduplicated, in spec order');
  const jwk = await subtle.exportKey('jwk', key);
  assertEquals(jwk.kty, 'oct');
  assertEquals(jwk.alg, 'HS1');
  assertEquals(jwk.k, 'CwsLCwsLCwsLCwsLCwsLCwsLCws');
  assertEquals(jwk.key_ops.join(), 'sign,verify');
  assertEquals(jwk.ext, true);
  const again = await subtle.importKey('jwk', jwk, { name: 'HMAC', hash: 'SHA-1' }, true,
                                       ['sign']);
  assertEquals(toHex(await subtle.exportKey('raw', again)), '0b'.repeat(20));
}

export async function hmacGenerateKeyUsesTheBlockSize() {
  const key = await subtle.generateKey({ name: 'HMAC', hash: 'SHA-512' }, true, ['sign']);
  assertEquals(key.algorithm.length, 1024);
  assertEquals((await subtle.exportKey('raw', key)).byteLength, 128);
  const short = await subtle.generateKey({ name: 'HMAC', hash: 'SHA-256', length: 80 }, true,
                                         ['sign', 'verify']);
  assertEquals((await subtle.exportKey('raw', short)).byteLength, 10);
  const long = await subtle.generateKey({ name: 'HMAC', hash: 'SHA-256', length: 8 * 70000 },
                                        true, ['sign']);
  const longBytes = new Uint8Array(await subtle.exportKey('raw', long));
  assertEquals(longBytes.length, 70000, 'longer than one getRandomValues call');
  assert(longBytes.subarray(65536).some((b) => b !== 0), 'the tail is random too');
  const mac = await subtle.sign('HMAC', short, utf8('x'));
  assert(await subtle.verify('HMAC', short, mac, utf8('x')), 'generated key verifies');
}

export async function hmacErrors() {
  const signOnly = await importHmac(kCase1.key, 'SHA-256', ['sign'], false);
  await rejectsWith(subtle.verify('HMAC', signOnly, new Uint8Array(32), utf8('x')),
                    'InvalidAccessError', 'usage not granted');
  await rejectsWith(subtle.exportKey('raw', signOnly), 'InvalidAccessError', 'not extractable');
  await rejectsWith(subtle.sign('ECDSA', signOnly, utf8('x')), 'TypeError',
                    'ECDSA params lack the hash');
  await rejectsWith(subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, signOnly, utf8('x')),
                    'InvalidAccessError', 'algorithm mismatch');
  await rejectsWith(importHmac(new Uint8Array(0), 'SHA-256'), 'DataError', 'empty key');
  await rejectsWith(importHmac(kCase1.key, 'SHA-256', ['encrypt']), 'SyntaxError', 'bad usage');
  await rejectsWith(importHmac(kCase1.key, 'SHA-256', []), 'SyntaxError', 'no usages');
  await rejectsWith(importHmac(kCase1.key, 'SHA-256', ['frobnicate']), 'TypeError',
                    'not a KeyUsage');
  await rejectsWith(importHmac(kCase1.key, 'MD5'), 'NotSupportedError', 'bad hash');
  await rejectsWith(importHmac(kCase1.key, undefined), 'TypeError', 'missing hash');
  await rejectsWith(subtle.importKey('raw', kCase1.key, { name: 'HMAC', hash: 'SHA-256',
                                                           length: 200 }, true, ['sign']),
                    'DataError', 'length longer than the key');
  await rejectsWith(subtle.importKey('spki', kCase1.key, { name: 'HMAC', hash: 'SHA-256' }, true,
                                     ['sign']),
                    'NotSupportedError', 'spki for a secret key');
  const jwk = { kty: 'oct', k: 'CwsLCwsLCwsLCwsLCwsLCwsLCws', alg: 'HS256' };
  await rejectsWith(subtle.importKey('jwk', jwk, { name: 'HMAC', hash: 'SHA-1' }, true, ['sign']),
                    'DataError', 'alg does not match the hash');
  await rejectsWith(subtle.importKey('jwk', { ...jwk, kty: 'RSA' },
                                     { name: 'HMAC', hash: 'SHA-256' }, true, ['sign']),
                    'DataError', 'kty');
  await rejectsWith(subtle.importKey('jwk', { ...jwk, k: 'not base64url!' },
                                     { name: 'HMAC', hash: 'SHA-256' }, true, ['sign']),
                    'DataError', 'bad k');
  await rejectsWith(subtle.importKey('jwk', { ...jwk, key_ops: ['verify'] },
                                     { name: 'HMAC', hash: 'SHA-256' }, true, ['sign']),
                    'DataError', 'key_ops lacks the usage');
  await rejectsWith(subtle.importKey('jwk', { ...jwk, ext: false },
                                     { name: 'HMAC', hash: 'SHA-256' }, true, ['sign']),
                    'DataError', 'ext false but extractable');
  await rejectsWith(subtle.importKey('jwk', jwk, { name: 'HMAC', hash: 'SHA-256' }, true,
                                     ['sign']).then(() => subtle.importKey('jwk', 'x',
                                     { name: 'HMAC', hash: 'SHA-256' }, true, ['sign'])),
                    'TypeError', 'jwk keyData not an object');
}
