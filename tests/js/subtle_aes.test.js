// crypto.subtle AES-GCM, AES-CBC, AES-CTR and AES-KW: NIST and RFC known answers, round
// trips, key formats and the spec's errors.
import { assert, assertEquals } from './lib/assert.js';
import { vectors } from './lib/subtle_vectors.js';
import { assertBytes, fromHex, rejectsWith, toHex, utf8 } from './lib/subtle_helpers.js';

const subtle = crypto.subtle;
const kAllUsages = ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey'];

function importAes(name, hex, usages = kAllUsages, extractable = true) {
  return subtle.importKey('raw', fromHex(hex), name, extractable, usages);
}

// The GCM specification's test cases 3 and 4 (McGrew & Viega), also in NIST's CAVS files.
const kGcm = {
  key: 'feffe9928665731c6d6a8f9467308308',
  iv: 'cafebabefacedbaddecaf888',
  plaintext: 'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72' +
             '1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255',
  ciphertext: '42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e' +
              '21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985',
  tag: '4d5c2af327cd64a62cf35abd2ba6fab4',
  aad: 'feedfacedeadbeeffeedfacedeadbeefabaddad2',
  tagWithAad: '5bc94fbc3221a5db94fae95ae7121a47',
};

export async function aesGcmMatchesTheGcmSpecification() {
  const key = await importAes('AES-GCM', kGcm.key);
  const iv = fromHex(kGcm.iv);
  const sealed = await subtle.encrypt({ name: 'AES-GCM', iv }, key, fromHex(kGcm.plaintext));
  assertBytes(sealed, kGcm.ciphertext + kGcm.tag, 'test case 3');
  assertBytes(await subtle.decrypt({ name: 'AES-GCM', iv }, key, sealed), kGcm.plaintext);
  // Test case 4: 60 bytes of plaintext and additional data.
  const params = { name: 'AES-GCM', iv, additionalData: fromHex(kGcm.aad) };
  const plaintext = fromHex(kGcm.plaintext).subarray(0, 60);
  const sealed4 = await subtle.encrypt(params, key, plaintext);
  assertBytes(sealed4, kGcm.ciphertext.slice(0, 120) + kGcm.tagWithAad, 'test case 4');
  assertBytes(await subtle.decrypt(params, key, sealed4), kGcm.plaintext.slice(0, 120));
}

export async function aesGcmRejectsTamperingAndBadParameters() {
  const key = await importAes('AES-GCM', kGcm.key);
  const iv = fromHex(kGcm.iv);
  const sealed = new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv }, key, utf8('hello')));
  const tampered = sealed.slice();
  tampered[tampered.length - 1] ^= 1;
  await rejectsWith(subtle.decrypt({ name: 'AES-GCM', iv }, key, tampered), 'OperationError',
                    'tag');
  tampered.set(sealed);
  tampered[0] ^= 1;
  await rejectsWith(subtle.decrypt({ name: 'AES-GCM', iv }, key, tampered), 'OperationError',
                    'ciphertext');
  await rejectsWith(subtle.decrypt({ name: 'AES-GCM', iv, additionalData: utf8('x') }, key,
                                   sealed), 'OperationError', 'additional data');
  await rejectsWith(subtle.decrypt({ name: 'AES-GCM', iv }, key, sealed.subarray(0, 10)),
                    'OperationError', 'shorter than the tag');
  await rejectsWith(subtle.encrypt({ name: 'AES-GCM', iv, tagLength: 100 }, key, utf8('x')),
                    'OperationError', 'tag length');
  await rejectsWith(subtle.encrypt({ name: 'AES-GCM' }, key, utf8('x')), 'TypeError', 'no iv');
  await rejectsWith(subtle.encrypt({ name: 'AES-GCM', iv, tagLength: 1000 }, key, utf8('x')),
                    'TypeError', 'tagLength out of octet range');
}

export async function aesGcmShortTagsRoundTrip() {
  const key = await subtle.generateKey({ name: 'AES-GCM', length: 256 }, false,
                                       ['encrypt', 'decrypt']);
  for (const tagLength of [32, 64, 96, 104, 112, 120, 128]) {
    const params = { name: 'AES-GCM', iv: new Uint8Array(16), tagLength };
    const sealed = await subtle.encrypt(params, key, utf8('round trip'));
    assertEquals(sealed.byteLength, 10 + tagLength / 8, `tag ${tagLength}`);
    assertEquals(new TextDecoder().decode(await subtle.decrypt(params, key, sealed)),
                 'round trip');
  }
}

// NIST SP 800-38A F.2.1 (CBC-AES128) and F.5.1 (CTR-AES128), first block.
const kSp80038a = {
  key: '2b7e151628aed2a6abf7158809cf4f3c',
  plaintext: '6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51',
  cbcIv: '000102030405060708090a0b0c0d0e0f',
  cbc: '7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2',
  ctrCounter: 'f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff',
  ctr: '874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff',
};

export async function aesCbcMatchesSp80038a() {
  const key = await importAes('AES-CBC', kSp80038a.key);
  const params = { name: 'AES-CBC', iv: fromHex(kSp80038a.cbcIv) };
  const sealed = await subtle.encrypt(params, key, fromHex(kSp80038a.plaintext));
  assertEquals(sealed.byteLength, 48, 'two blocks and a block of PKCS#7 padding');
  assertEquals(toHex(sealed).slice(0, 64), kSp80038a.cbc);
  assertBytes(await subtle.decrypt(params, key, sealed), kSp80038a.plaintext);
  const broken = new Uint8Array(sealed);
  broken[broken.length - 1] ^= 0x55;
  await rejectsWith(subtle.decrypt(params, key, broken), 'OperationError', 'bad padding');
  await rejectsWith(subtle.encrypt({ name: 'AES-CBC', iv: new Uint8Array(8) }, key, utf8('x')),
                    'OperationError', 'iv length');
}

const kCtrWraps = [
  ['ffeeddccbbaa99887766554433221ffe', 12,
   '2277ec66762783c8f6028e84d9619b7c630f3151b2287c9c6068f6354160244c67403d7e7737159244a12a63f362701b4d52'],
  ['0123456789abcdeffffffffffffffffe', 64,
   '0f74d4c7f8d83050fb911db3785de07a0ae28e8fae00f467c23802a84c7dbf8bfdcdc2a406b7eada0c7e06ef8adf7febee09'],
  ['fffffffffffffffffffffffffffffffe', 128,
   '2961b96cbdfb34563514ce64126b795d1cddc1b4892f9d80f4786b6cdfd445c82ce0d72067bed5592b3ce6c70cc21b2207dd'],
];

export async function aesCtrMatchesSp80038aAndWrapsItsCounter() {
  const key = await importAes('AES-CTR', kSp80038a.key);
  const params = { name: 'AES-CTR', counter: fromHex(kSp80038a.ctrCounter), length: 64 };
  const sealed = await subtle.encrypt(params, key, fromHex(kSp80038a.plaintext));
  assertBytes(sealed, kSp80038a.ctr);
  assertBytes(await subtle.decrypt(params, key, sealed), kSp80038a.plaintext);
  // An 8-bit counter at 0xfe wraps to 0x00 after two blocks without touching the nonce.
  const wrap = vectors.ctrWrap;
  const wrapKey = await importAes('AES-CTR', wrap.key);
  const wrapParams = { name: 'AES-CTR', counter: fromHex(wrap.counter), length: wrap.length };
  assertBytes(await subtle.encrypt(wrapParams, wrapKey, fromHex(wrap.data)), wrap.ciphertext,
              'counter wrap');
  // Counters of 12, 64 and 128 bits about to wrap, checked against a block-by-block
  // computation (AES-128-ECB over the counter blocks) made with Node.js.
  const key7 = await importAes('AES-CTR', '07'.repeat(16));
  const data50 = Uint8Array.from({ length: 50 }, (_, i) => (i * 3) & 0xFF);
  for (const [counter, length, expected] of kCtrWraps) {
    assertBytes(await subtle.encrypt({ name: 'AES-CTR', counter: fromHex(counter), length }, key7,
                                     data50), expected, `${length}-bit counter`);
  }
  // A 1-bit counter has only two blocks.
  await rejectsWith(subtle.encrypt({ ...wrapParams, length: 1 }, wrapKey, new Uint8Array(33)),
                    'OperationError', 'more blocks than counter values');
  await rejectsWith(subtle.encrypt({ ...wrapParams, length: 0 }, wrapKey, new Uint8Array(1)),
                    'OperationError', 'zero length');
  await rejectsWith(subtle.encrypt({ ...wrapParams, length: 129 }, wrapKey, new Uint8Array(1)),
                    'OperationError', 'length over 128');
  await rejectsWith(subtle.encrypt({ ...wrapParams, counter: new Uint8Array(8) }, wrapKey,
                                   new Uint8Array(1)), 'OperationError', 'short counter');
}

// RFC 3394 §4.1 and §4.6.
export async function aesKwMatchesRfc3394() {
  const kek = await importAes('AES-KW', '000102030405060708090a0b0c0d0e0f',
                              ['wrapKey', 'unwrapKey']);
  const keyData = fromHex('00112233445566778899aabbccddeeff');
  const inner = await subtle.importKey('raw', keyData, 'AES-CBC', true, ['encrypt']);
  const wrapped = await subtle.wrapKey('raw', inner, kek, 'AES-KW');
  assertBytes(wrapped, '1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5', '4.1');
  const unwrapped = await subtle.unwrapKey('raw', wrapped, kek, 'AES-KW', 'AES-CBC', true,
                                           ['decrypt']);
  assertEquals(unwrapped.algorithm.name, 'AES-CBC');
  assertEquals(unwrapped.algorithm.length, 128);
  assertBytes(await subtle.exportKey('raw', unwrapped), '00112233445566778899aabbccddeeff');
  const kek256 = await importAes('AES-KW', '000102030405060708090a0b0c0d0e0f' +
                                 '101112131415161718191a1b1c1d1e1f', ['wrapKey', 'unwrapKey']);
  const inner256 = await importAes('AES-GCM', '00112233445566778899aabbccddeeff' +
                                   '000102030405060708090a0b0c0d0e0f');
  assertBytes(await subtle.wrapKey('raw', inner256, kek256, 'AES-KW'),
              '28c9f404c4b810f4cbccb35cfb87f8263f5786e2d80ed326cbc7f0e71a99f43bfb988b9b7a02dd21',
              '4.6');
  const tampered = new Uint8Array(wrapped);
  tampered[3] ^= 1;
  await rejectsWith(subtle.unwrapKey('raw', tampered, kek, 'AES-KW', 'AES-CBC', true,
                                     ['decrypt']), 'OperationError', 'integrity check');
  await rejectsWith(subtle.encrypt('AES-KW', kek, new Uint8Array(16)), 'NotSupportedError',
                    'AES-KW has no encrypt');
}

export async function wrapKeyWithAesGcmAndJwk() {
  const wrapping = await subtle.generateKey({ name: 'AES-GCM', length: 128 }, false,
                                            ['wrapKey', 'unwrapKey']);
  const hmacKey = await subtle.importKey('raw', utf8('a secret HMAC key'),
                                         { name: 'HMAC', hash: 'SHA-256' }, true, ['sign']);
  const params = { name: 'AES-GCM', iv: new Uint8Array(12) };
  const wrapped = await subtle.wrapKey('jwk', hmacKey, wrapping, params);
  await rejectsWith(subtle.decrypt(params, wrapping, wrapped), 'InvalidAccessError',
                    'decrypt needs the decrypt usage, which the wrapping key lacks');
  const restored = await subtle.unwrapKey('jwk', wrapped, wrapping, params,
                                          { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  assertEquals(restored.extractable, false);
  assertEquals(toHex(await subtle.sign('HMAC', restored, utf8('m'))),
               toHex(await subtle.sign('HMAC', hmacKey, utf8('m'))), 'same key after the trip');
  const secret = await subtle.importKey('raw', new Uint8Array(16), 'AES-GCM', false, ['encrypt']);
  await rejectsWith(subtle.wrapKey('raw', secret, wrapping, params), 'InvalidAccessError',
                    'wrapping a non-extractable key');
}

export async function aesKeysInEveryFormat() {
  for (const length of [128, 192, 256]) {
    for (const name of ['AES-GCM', 'AES-CBC', 'AES-CTR', 'AES-KW']) {
      const usages = name === 'AES-KW' ? ['wrapKey'] : ['encrypt'];
      const key = await subtle.generateKey({ name, length }, true, usages);
      assertEquals(key.algorithm.length, length);
      const raw = await subtle.exportKey('raw', key);
      assertEquals(raw.byteLength, length / 8);
      const jwk = await subtle.exportKey('jwk', key);
      assertEquals(jwk.alg, `A${length}${name.slice(4)}`, `${name} jwk alg`);
      const back = await subtle.importKey('jwk', jwk, name, true, usages);
      assertEquals(toHex(await subtle.exportKey('raw', back)), toHex(raw), `${name} jwk trip`);
    }
  }
}

export async function aesKeyErrors() {
  await rejectsWith(subtle.importKey('raw', new Uint8Array(20), 'AES-GCM', true, ['encrypt']),
                    'DataError', 'key length');
  await rejectsWith(subtle.generateKey({ name: 'AES-GCM', length: 100 }, true, ['encrypt']),
                    'OperationError', 'generated key length');
  await rejectsWith(subtle.generateKey({ name: 'AES-GCM' }, true, ['encrypt']), 'TypeError',
                    'length required');
  await rejectsWith(subtle.generateKey({ name: 'AES-GCM', length: 128 }, true, ['sign']),
                    'SyntaxError', 'usage');
  await rejectsWith(subtle.generateKey({ name: 'AES-GCM', length: 128 }, true, []),
                    'SyntaxError', 'no usages');
  await rejectsWith(subtle.importKey('jwk', { kty: 'oct', k: 'AAAAAAAAAAAAAAAAAAAAAA',
                                              alg: 'A256GCM' }, 'AES-GCM', true, ['encrypt']),
                    'DataError', 'jwk alg for the wrong length');
  await rejectsWith(subtle.importKey('jwk', { kty: 'oct', k: 'AAAAAAAAAAAAAAAAAAAAAA',
                                              use: 'sig' }, 'AES-GCM', true, ['encrypt']),
                    'DataError', 'jwk use');
  await rejectsWith(subtle.importKey('pkcs8', new Uint8Array(16), 'AES-GCM', true, ['encrypt']),
                    'NotSupportedError', 'pkcs8 for AES');
  const encryptOnly = await subtle.importKey('raw', new Uint8Array(16), 'AES-CBC', false,
                                             ['encrypt']);
  await rejectsWith(subtle.decrypt({ name: 'AES-CBC', iv: new Uint8Array(16) }, encryptOnly,
                                   new Uint8Array(16)), 'InvalidAccessError', 'usage');
  await rejectsWith(subtle.encrypt({ name: 'AES-GCM', iv: new Uint8Array(12) }, encryptOnly,
                                   new Uint8Array(16)), 'InvalidAccessError', 'algorithm');
  await rejectsWith(subtle.encrypt({ name: 'AES-CBC', iv: new Uint8Array(16) }, {},
                                   new Uint8Array(16)), 'TypeError', 'not a CryptoKey');
  assert(true);
}
