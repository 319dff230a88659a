// crypto.subtle.digest: FIPS 180 test vectors, algorithm normalisation and its errors.
import { assert, assertEquals } from './lib/assert.js';
import { assertBytes, rejectsWith, utf8 } from './lib/subtle_helpers.js';

const kAbc = {
  'SHA-1': 'a9993e364706816aba3e25717850c26c9cd0d89d',
  'SHA-256': 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
  'SHA-384': 'cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed' +
             '8086072ba1e7cc2358baeca134c825a7',
  'SHA-512': 'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a' +
             '2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
};

export async function digestsMatchTheFips180Vectors() {
  for (const [name, expected] of Object.entries(kAbc)) {
    const result = await crypto.subtle.digest(name, utf8('abc'));
    assert(result instanceof ArrayBuffer, 'resolves to an ArrayBuffer');
    assertBytes(result, expected, name);
  }
}

export async function digestOfEmptyAndLongInput() {
  assertBytes(await crypto.subtle.digest('SHA-256', new Uint8Array(0)),
              'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  // FIPS 180-2 appendix: one million repetitions of 'a'.
  assertBytes(await crypto.subtle.digest('SHA-1', utf8('a'.repeat(1000000))),
              '34aa973cd4c4daa4f61eeb2bdbad27316534016f');
}

export async function digestAcceptsEveryBufferSourceAndNameForm() {
  const bytes = utf8('xabcx');
  const view = new DataView(bytes.buffer, 1, 3);
  assertBytes(await crypto.subtle.digest({ name: 'sha-256' }, view), kAbc['SHA-256'], 'DataView');
  assertBytes(await crypto.subtle.digest('Sha-256', bytes.subarray(1, 4)), kAbc['SHA-256'],
              'subarray');
  assertBytes(await crypto.subtle.digest('SHA-256', utf8('abc').buffer), kAbc['SHA-256'],
              'ArrayBuffer');
}

export async function digestErrorsRejectTheirPromise() {
  await rejectsWith(crypto.subtle.digest('MD5', utf8('abc')), 'NotSupportedError', 'MD5');
  await rejectsWith(crypto.subtle.digest('SHA-3', utf8('abc')), 'NotSupportedError', 'unknown');
  await rejectsWith(crypto.subtle.digest({}, utf8('abc')), 'TypeError', 'no name');
  await rejectsWith(crypto.subtle.digest(42, utf8('abc')), 'TypeError', 'not an object');
  await rejectsWith(crypto.subtle.digest('SHA-256', 'abc'), 'TypeError', 'string data');
  await rejectsWith(crypto.subtle.digest('SHA-256'), 'TypeError', 'no data');
  await rejectsWith(crypto.subtle.digest.call({}, 'SHA-256', utf8('a')), 'TypeError', 'this');
}

export function subtleIsASubtleCrypto() {
  assert(crypto.subtle instanceof SubtleCrypto, 'instanceof SubtleCrypto');
  assertEquals(crypto.subtle, crypto.subtle, 'the same object each time');
  assertEquals(Object.prototype.toString.call(crypto.subtle), '[object SubtleCrypto]');
  let threw = false;
  try {
    new SubtleCrypto();
  } catch (error) {
    threw = error instanceof TypeError;
  }
  assert(threw, 'new SubtleCrypto() throws a TypeError');
}
