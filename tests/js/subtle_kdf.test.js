// crypto.subtle HKDF (RFC 5869) and PBKDF2 (RFC 6070) known answers, deriveKey, and errors.
import { assert, assertEquals } from './lib/assert.js';
import { assertBytes, fromHex, rejectsWith, toHex, utf8 } from './lib/subtle_helpers.js';

const subtle = crypto.subtle;

function importKdf(name, bytes, usages = ['deriveBits', 'deriveKey']) {
  return subtle.importKey('raw', bytes, name, false, usages);
}

export async function hkdfMatchesRfc5869() {
  const ikm = await importKdf('HKDF', fromHex('0b'.repeat(22)));
  assertEquals(ikm.type, 'secret');
  assertEquals(ikm.algorithm.name, 'HKDF');
  const case1 = { name: 'HKDF', hash: 'SHA-256', salt: fromHex('000102030405060708090a0b0c'),
                  info: fromHex('f0f1f2f3f4f5f6f7f8f9') };
  assertBytes(await subtle.deriveBits(case1, ikm, 42 * 8),
              '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
              'case 1');
  const case3 = { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0),
                  info: new Uint8Array(0) };
  assertBytes(await subtle.deriveBits(case3, ikm, 42 * 8),
              '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8',
              'case 3');
  // Case 4 (SHA-1).
  const ikm4 = await importKdf('HKDF', fromHex('0b'.repeat(11)));
  assertBytes(await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-1',
                                        salt: fromHex('000102030405060708090a0b0c'),
                                        info: fromHex('f0f1f2f3f4f5f6f7f8f9') }, ikm4, 42 * 8),
              '085a01ea1b10f36933068b56efa5ad81a4f14b822f5b091568a9cdd4f155fda2c22e422478d305f3f896',
              'case 4');
}

export async function hkdfAcceptsAnEmptyKey() {
  // Expected: HMAC-SHA-256(PRK, "i" || 0x01) with PRK = HMAC-SHA-256("s", ""), from Node.js.
  const empty = await importKdf('HKDF', new Uint8Array(0));
  const params = { name: 'HKDF', hash: 'SHA-256', salt: utf8('s'), info: utf8('i') };
  assertBytes(await subtle.deriveBits(params, empty, 256),
              'e7ee38c8e709aea46ec69a31d59b81f349e96ff6ac29575a92c447b4f2a34f61');
  const zero = await importKdf('HKDF', new Uint8Array(1));
  assert(toHex(await subtle.deriveBits(params, zero, 256)) !==
         'e7ee38c8e709aea46ec69a31d59b81f349e96ff6ac29575a92c447b4f2a34f61',
         'an empty key is not a zero byte');
}

const kRfc6070 = [
  ['password', 'salt', 1, 20, '0c60c80f961f0e71f3a9b524af6012062fe037a6'],
  ['password', 'salt', 2, 20, 'ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957'],
  ['password', 'salt', 4096, 20, '4b007901b765489abead49d926f721d065a429c1'],
  ['passwordPASSWORDpassword', 'saltSALTsaltSALTsaltSALTsaltSALTsalt', 4096, 25,
   '3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038'],
  ['pass\0word', 'sa\0lt', 4096, 16, '56fa6aa75548099dcc37d7f03425e0c3'],
];

export async function pbkdf2MatchesRfc6070() {
  for (const [password, salt, iterations, length, expected] of kRfc6070) {
    const key = await importKdf('PBKDF2', utf8(password), ['deriveBits']);
    assertBytes(await subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-1', salt: utf8(salt),
                                          iterations }, key, length * 8),
                expected, `${password}/${iterations}`);
  }
}

export async function deriveKeyMakesUsableKeys() {
  const base = await importKdf('PBKDF2', utf8('correct horse battery staple'));
  const params = { name: 'PBKDF2', hash: 'SHA-256', salt: utf8('salt'), iterations: 1000 };
  const aes = await subtle.deriveKey(params, base, { name: 'AES-GCM', length: 256 }, true,
                                     ['encrypt', 'decrypt']);
  assertEquals(aes.algorithm.name, 'AES-GCM');
  assertEquals(aes.algorithm.length, 256);
  assertEquals(toHex(await subtle.exportKey('raw', aes)),
               toHex(await subtle.deriveBits(params, base, 256)), 'the derived bits are the key');
  const hmac = await subtle.deriveKey(params, base, { name: 'HMAC', hash: 'SHA-384' }, false,
                                      ['sign']);
  assertEquals(hmac.algorithm.length, 1024, 'HMAC keys default to the block size');
  const hkdfBase = await importKdf('HKDF', utf8('input key material'));
  const hkdfParams = { name: 'HKDF', hash: 'SHA-512', salt: new Uint8Array(0), info: utf8('x') };
  const hkdfKey = await subtle.deriveKey(hkdfParams, hkdfBase, { name: 'AES-CBC', length: 128 },
                                         true, ['encrypt']);
  assertEquals((await subtle.exportKey('raw', hkdfKey)).byteLength, 16);
  await rejectsWith(subtle.deriveKey(params, base, { name: 'AES-GCM', length: 100 }, true,
                                     ['encrypt']), 'OperationError', 'bad AES length');
  await rejectsWith(subtle.deriveKey(params, base, 'HKDF', false, ['deriveBits']),
                    'OperationError', 'a KDF key has no length to derive');
  await rejectsWith(subtle.deriveKey(params, base, { name: 'AES-GCM', length: 128 }, true, []),
                    'SyntaxError', 'no usages');
  const bitsOnly = await importKdf('PBKDF2', utf8('pw'), ['deriveBits']);
  await rejectsWith(subtle.deriveKey(params, bitsOnly, { name: 'AES-GCM', length: 128 }, true,
                                     ['encrypt']), 'InvalidAccessError', 'no deriveKey usage');
}

export async function kdfErrors() {
  const key = await importKdf('PBKDF2', utf8('pw'));
  const params = { name: 'PBKDF2', hash: 'SHA-256', salt: utf8('salt'), iterations: 1 };
  await rejectsWith(subtle.deriveBits(params, key, null), 'OperationError', 'null length');
  await rejectsWith(subtle.deriveBits(params, key), 'OperationError', 'no length');
  await rejectsWith(subtle.deriveBits(params, key, 12), 'OperationError', 'not whole bytes');
  await rejectsWith(subtle.deriveBits({ ...params, iterations: 0 }, key, 256), 'OperationError',
                    'zero iterations');
  await rejectsWith(subtle.deriveBits({ ...params, iterations: 0 }, key, 0), 'OperationError',
                    'zero iterations, zero length');
  assertEquals((await subtle.deriveBits(params, key, 0)).byteLength, 0, 'PBKDF2 zero length');
  const hkdfKey = await importKdf('HKDF', utf8('k'));
  assertEquals((await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: utf8(''),
                                          info: utf8('') }, hkdfKey, 0)).byteLength, 0,
               'HKDF zero length');
  await rejectsWith(subtle.deriveBits({ ...params, iterations: 100001 }, key, 256),
                    'NotSupportedError', 'over the iteration cap');
  await rejectsWith(subtle.deriveBits({ ...params, salt: undefined }, key, 256), 'TypeError',
                    'salt required');
  await rejectsWith(subtle.importKey('raw', utf8('pw'), 'PBKDF2', true, ['deriveBits']),
                    'SyntaxError', 'KDF keys are not extractable');
  await rejectsWith(subtle.importKey('jwk', { kty: 'oct', k: 'cHc' }, 'PBKDF2', false,
                                     ['deriveBits']), 'NotSupportedError', 'jwk KDF key');
  // The spec checks that the algorithm can export at all before extractability.
  await rejectsWith(subtle.exportKey('raw', key), 'NotSupportedError', 'KDF keys never export');
  const hkdf = await importKdf('HKDF', utf8('k'));
  await rejectsWith(subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: utf8(''),
                                        info: utf8('') }, hkdf, 256 * 255 + 8),
                    'OperationError', 'longer than 255 hash lengths');
  await rejectsWith(subtle.deriveBits(params, hkdf, 256), 'InvalidAccessError',
                    'a PBKDF2 derivation with an HKDF key');
}
