// crypto.subtle RSASSA-PKCS1-v1_5, RSA-PSS and RSA-OAEP: a 2048-bit key, signatures and a
// ciphertext made by Node.js's WebCrypto, every key format, round trips and errors.
import { assert, assertEquals } from './lib/assert.js';
import { vectors } from './lib/subtle_vectors.js';
import { assertBytes, fromHex, rejectsWith, toHex, utf8 } from './lib/subtle_helpers.js';

const subtle = crypto.subtle;
const kMessage = utf8('isolated subtle fixture message');
const v = vectors.rsa;
const kPkcs1 = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };

export async function rsassaVerifiesAndReproducesTheForeignSignature() {
  const pub = await subtle.importKey('spki', fromHex(v.spki), kPkcs1, true, ['verify']);
  assertEquals(pub.type, 'public');
  assertEquals(pub.algorithm.modulusLength, 2048);
  assertEquals(toHex(pub.algorithm.publicExponent), '010001');
  assertEquals(pub.algorithm.hash.name, 'SHA-256');
  assert(await subtle.verify('RSASSA-PKCS1-v1_5', pub, fromHex(v.sigPkcs1Sha256), kMessage),
         'foreign signature verifies');
  assertEquals(await subtle.verify('RSASSA-PKCS1-v1_5', pub, fromHex(v.sigPkcs1Sha256),
                                   utf8('other')), false);
  // PKCS #1 v1.5 signatures are deterministic: both private formats reproduce it.
  for (const [format, data] of [['pkcs8', fromHex(v.pkcs8)], ['jwk', v.jwk]]) {
    const priv = await subtle.importKey(format, data, kPkcs1, true, ['sign']);
    assertBytes(await subtle.sign('RSASSA-PKCS1-v1_5', priv, kMessage), v.sigPkcs1Sha256, format);
  }
}

export async function rsaPssVerifiesTheForeignSignature() {
  const params = { name: 'RSA-PSS', hash: 'SHA-384' };
  const pub = await subtle.importKey('jwk', { kty: 'RSA', n: v.jwk.n, e: v.jwk.e }, params, true,
                                     ['verify']);
  assert(await subtle.verify({ name: 'RSA-PSS', saltLength: 48 }, pub,
                             fromHex(v.sigPssSha384Salt48), kMessage), 'verifies');
  assertEquals(await subtle.verify({ name: 'RSA-PSS', saltLength: 20 }, pub,
                                   fromHex(v.sigPssSha384Salt48), kMessage), false,
               'another salt length');
  const priv = await subtle.importKey('pkcs8', fromHex(v.pkcs8), params, false, ['sign']);
  for (const saltLength of [0, 32, 48]) {
    const signature = await subtle.sign({ name: 'RSA-PSS', saltLength }, priv, kMessage);
    assert(await subtle.verify({ name: 'RSA-PSS', saltLength }, pub, signature, kMessage),
           `salt ${saltLength}`);
  }
  await rejectsWith(subtle.sign({ name: 'RSA-PSS', saltLength: 1000 }, priv, kMessage),
                    'OperationError', 'salt longer than the key allows');
  await rejectsWith(subtle.sign({ name: 'RSA-PSS' }, priv, kMessage), 'TypeError',
                    'saltLength required');
}

export async function rsaOaepDecryptsTheForeignCiphertext() {
  const params = { name: 'RSA-OAEP', hash: 'SHA-256' };
  const priv = await subtle.importKey('pkcs8', fromHex(v.pkcs8), params, false, ['decrypt']);
  const label = utf8('label');
  assertEquals(new TextDecoder().decode(await subtle.decrypt(
      { name: 'RSA-OAEP', label }, priv, fromHex(v.oaepSha256LabelCiphertext))),
               'isolated subtle fixture message');
  await rejectsWith(subtle.decrypt({ name: 'RSA-OAEP' }, priv,
                                   fromHex(v.oaepSha256LabelCiphertext)),
                    'OperationError', 'wrong label');
  const pub = await subtle.importKey('spki', fromHex(v.spki), params, false, ['encrypt']);
  const sealed = await subtle.encrypt({ name: 'RSA-OAEP' }, pub, utf8('secret'));
  assertEquals(sealed.byteLength, 256);
  assertEquals(new TextDecoder().decode(await subtle.decrypt({ name: 'RSA-OAEP' }, priv, sealed)),
               'secret');
  await rejectsWith(subtle.encrypt({ name: 'RSA-OAEP' }, pub, new Uint8Array(300)),
                    'OperationError', 'too long for the key');
  await rejectsWith(subtle.encrypt({ name: 'RSA-OAEP' }, priv, utf8('x')), 'InvalidAccessError',
                    'encrypting needs the encrypt usage');
}

export async function rsaKeysExportInEveryFormat() {
  const priv = await subtle.importKey('jwk', v.jwk, kPkcs1, true, ['sign']);
  assertBytes(await subtle.exportKey('pkcs8', priv), v.pkcs8, 'jwk -> pkcs8');
  const jwk = await subtle.exportKey('jwk', priv);
  for (const member of ['n', 'e', 'd', 'p', 'q', 'dp', 'dq', 'qi']) {
    assertEquals(jwk[member], v.jwk[member], member);
  }
  assertEquals(jwk.alg, 'RS256');
  assertEquals(jwk.kty, 'RSA');
  const pub = await subtle.importKey('spki', fromHex(v.spki), { name: 'RSA-OAEP',
                                                                 hash: 'SHA-512' }, true,
                                     ['encrypt', 'wrapKey']);
  const pubJwk = await subtle.exportKey('jwk', pub);
  assertEquals(pubJwk.alg, 'RSA-OAEP-512');
  assertEquals(pubJwk.d, undefined);
  assertEquals(pubJwk.key_ops.join(), 'encrypt,wrapKey');
  assertBytes(await subtle.exportKey('spki', pub), v.spki, 'spki -> spki');
  await rejectsWith(subtle.exportKey('raw', pub), 'NotSupportedError', 'no raw RSA keys');
  const pss = await subtle.importKey('spki', fromHex(v.spki), { name: 'RSA-PSS', hash: 'SHA-1' },
                                     true, ['verify']);
  assertEquals((await subtle.exportKey('jwk', pss)).alg, 'PS1');
}

export async function rsaGenerateKeyForEachScheme() {
  const common = { modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]),
                   hash: 'SHA-256' };
  const signer = await subtle.generateKey({ name: 'RSA-PSS', ...common }, true, ['sign', 'verify']);
  assertEquals(signer.privateKey.algorithm.modulusLength, 1024);
  assertEquals(toHex(signer.publicKey.algorithm.publicExponent), '010001');
  const signature = await subtle.sign({ name: 'RSA-PSS', saltLength: 32 }, signer.privateKey,
                                      kMessage);
  assert(await subtle.verify({ name: 'RSA-PSS', saltLength: 32 }, signer.publicKey, signature,
                             kMessage), 'PSS');
  const oaep = await subtle.generateKey({ name: 'RSA-OAEP', ...common }, false,
                                        ['encrypt', 'decrypt']);
  assertEquals(oaep.publicKey.usages.join(), 'encrypt');
  assertEquals(oaep.privateKey.usages.join(), 'decrypt');
  const sealed = await subtle.encrypt('RSA-OAEP', oaep.publicKey, utf8('hi'));
  assertEquals(new TextDecoder().decode(await subtle.decrypt('RSA-OAEP', oaep.privateKey, sealed)),
               'hi');
  const oaepSpki = await subtle.exportKey('spki', oaep.publicKey);
  const reimported = await subtle.importKey('spki', oaepSpki, { name: 'RSA-OAEP', hash: 'SHA-256' },
                                            true, ['encrypt']);
  assertEquals(reimported.algorithm.modulusLength, 1024, 'a 1024-bit key imports');
  const e3 = await subtle.generateKey({ name: 'RSASSA-PKCS1-v1_5', ...common,
                                        publicExponent: new Uint8Array([3]) }, true, ['sign']);
  assertEquals(toHex(e3.publicKey.algorithm.publicExponent), '03');
  await rejectsWith(subtle.generateKey({ name: 'RSASSA-PKCS1-v1_5', ...common,
                                         publicExponent: new Uint8Array([4]) }, true, ['sign']),
                    'OperationError', 'even exponent');
  await rejectsWith(subtle.generateKey({ name: 'RSASSA-PKCS1-v1_5', ...common,
                                         publicExponent: [1, 0, 1] }, true, ['sign']),
                    'TypeError', 'publicExponent must be a Uint8Array');
  await rejectsWith(subtle.generateKey({ name: 'RSASSA-PKCS1-v1_5', ...common,
                                         modulusLength: 16384 }, true, ['sign']),
                    'NotSupportedError', 'modulus too large to generate');
  await rejectsWith(subtle.generateKey({ name: 'RSA-OAEP', ...common }, true, ['sign']),
                    'SyntaxError', 'OAEP keys cannot sign');
}

export async function rsaImportErrors() {
  await rejectsWith(subtle.importKey('spki', fromHex(vectors['P-256'].spki), kPkcs1, true,
                                     ['verify']), 'DataError', 'an EC key');
  await rejectsWith(subtle.importKey('pkcs8', fromHex(v.spki), kPkcs1, true, ['sign']),
                    'DataError', 'spki bytes as pkcs8');
  await rejectsWith(subtle.importKey('jwk', { ...v.jwk, alg: 'PS256' }, kPkcs1, true, ['sign']),
                    'DataError', 'alg for another scheme');
  const { qi, ...noCrt } = v.jwk;
  assert(qi, 'fixture has qi');
  await rejectsWith(subtle.importKey('jwk', noCrt, kPkcs1, true, ['sign']), 'DataError',
                    'missing CRT member');
  await rejectsWith(subtle.importKey('jwk', { ...v.jwk, d: v.jwk.e }, kPkcs1, true, ['sign']),
                    'DataError', 'inconsistent private exponent');
  // Each component the import checks against the others (worker/subtle/key_components.cc),
  // changed alone: swapped primes (qi no longer inverts q mod p), CRT exponents or coefficient
  // taken from another member, an even public exponent.
  const inconsistent = {
    'swapped primes': { p: v.jwk.q, q: v.jwk.p },
    'dp of another prime': { dp: v.jwk.dq },
    'dq of another prime': { dq: v.jwk.dp },
    'qi not the inverse of q': { qi: v.jwk.dp },
    'modulus not p * q': { p: v.jwk.dp },
  };
  for (const [what, change] of Object.entries(inconsistent)) {
    await rejectsWith(subtle.importKey('jwk', { ...v.jwk, ...change }, kPkcs1, true, ['sign']),
                      'DataError', what);
  }
  await rejectsWith(subtle.importKey('jwk', { kty: 'RSA', n: v.jwk.n, e: 'AQAA' }, kPkcs1, true,
                                     ['verify']), 'DataError', 'even public exponent');
  // The consistent key itself still imports and signs.
  const signer = await subtle.importKey('jwk', v.jwk, kPkcs1, false, ['sign']);
  assert((await subtle.sign('RSASSA-PKCS1-v1_5', signer, kMessage)).byteLength === 256,
         'a 2048-bit signature');
  await rejectsWith(subtle.importKey('pkcs8', fromHex(v.pkcs8), kPkcs1, true, ['verify']),
                    'SyntaxError', 'verify on a private key');
  await rejectsWith(subtle.importKey('raw', fromHex(v.spki), kPkcs1, true, ['verify']),
                    'NotSupportedError', 'raw RSA');
  const priv = await subtle.importKey('pkcs8', fromHex(v.pkcs8), kPkcs1, false, ['sign']);
  await rejectsWith(subtle.verify('RSASSA-PKCS1-v1_5', priv, new Uint8Array(256), kMessage),
                    'InvalidAccessError', 'verify needs the verify usage');
  await rejectsWith(subtle.sign({ name: 'RSA-PSS', saltLength: 0 }, priv, kMessage),
                    'InvalidAccessError', 'a PKCS1 key used for PSS');
}
