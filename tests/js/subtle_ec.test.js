// crypto.subtle ECDSA and ECDH on P-256 and P-384: keys and signatures made by Node.js's
// WebCrypto verified here, every import and export format, round trips and errors.
import { assert, assertEquals } from './lib/assert.js';
import { vectors } from './lib/subtle_vectors.js';
import { assertBytes, fromHex, rejectsWith, toHex, utf8 } from './lib/subtle_helpers.js';

const subtle = crypto.subtle;
const kMessage = utf8('isolated subtle fixture message');
const kCurves = ['P-256', 'P-384'];

function ecdsa(curve) {
  return { name: 'ECDSA', namedCurve: curve };
}

export async function ecdsaVerifiesForeignSignaturesInEveryPublicFormat() {
  for (const curve of kCurves) {
    const v = vectors[curve];
    const keys = [
      await subtle.importKey('spki', fromHex(v.spki), ecdsa(curve), true, ['verify']),
      await subtle.importKey('raw', fromHex(v.raw), ecdsa(curve), true, ['verify']),
      await subtle.importKey('jwk', { kty: 'EC', crv: curve, x: v.jwk.x, y: v.jwk.y },
                             ecdsa(curve), true, ['verify']),
    ];
    for (const key of keys) {
      assertEquals(key.type, 'public');
      assertEquals(key.algorithm.namedCurve, curve);
      const params = { name: 'ECDSA', hash: v.hash };
      assertEquals(await subtle.verify(params, key, fromHex(v.signature), kMessage), true, curve);
      assertEquals(await subtle.verify(params, key, fromHex(v.signature), utf8('other')), false);
      assertEquals(await subtle.verify(params, key, fromHex(v.signature).subarray(1), kMessage),
                   false, 'wrong signature length');
    }
  }
}

export async function ecdsaPrivateKeysSignInEveryFormat() {
  for (const curve of kCurves) {
    const v = vectors[curve];
    const verifier = await subtle.importKey('spki', fromHex(v.spki), ecdsa(curve), true,
                                            ['verify']);
    const signers = [
      await subtle.importKey('pkcs8', fromHex(v.pkcs8), ecdsa(curve), true, ['sign']),
      await subtle.importKey('jwk', v.jwk, ecdsa(curve), true, ['sign']),
    ];
    for (const signer of signers) {
      assertEquals(signer.type, 'private');
      const params = { name: 'ECDSA', hash: 'SHA-512' };
      const signature = await subtle.sign(params, signer, kMessage);
      assertEquals(signature.byteLength, curve === 'P-256' ? 64 : 96, 'r || s');
      assert(await subtle.verify(params, verifier, signature, kMessage), `${curve} round trip`);
    }
  }
}

export async function ecKeysExportAsImported() {
  for (const curve of kCurves) {
    const v = vectors[curve];
    const priv = await subtle.importKey('jwk', v.jwk, ecdsa(curve), true, ['sign']);
    const jwk = await subtle.exportKey('jwk', priv);
    assertEquals(jwk.kty, 'EC');
    assertEquals(jwk.crv, curve);
    assertEquals(jwk.x, v.jwk.x);
    assertEquals(jwk.y, v.jwk.y);
    assertEquals(jwk.d, v.jwk.d);
    assertEquals(jwk.key_ops.join(), 'sign');
    const fromPkcs8 = await subtle.importKey('pkcs8', fromHex(v.pkcs8), ecdsa(curve), true,
                                             ['sign']);
    assertEquals((await subtle.exportKey('jwk', fromPkcs8)).d, v.jwk.d, 'pkcs8 -> jwk');
    assertBytes(await subtle.exportKey('pkcs8', fromPkcs8), v.pkcs8, 'pkcs8 -> pkcs8');
    const pub = await subtle.importKey('raw', fromHex(v.raw), ecdsa(curve), true, ['verify']);
    assertBytes(await subtle.exportKey('spki', pub), v.spki, 'raw -> spki');
    assertBytes(await subtle.exportKey('raw', pub), v.raw, 'raw -> raw');
    const pubJwk = await subtle.exportKey('jwk', pub);
    assertEquals(pubJwk.d, undefined, 'no private member');
    assertEquals(pubJwk.x, v.jwk.x);
    await rejectsWith(subtle.exportKey('raw', priv), 'InvalidAccessError', 'raw private');
    await rejectsWith(subtle.exportKey('spki', priv), 'InvalidAccessError', 'spki private');
    await rejectsWith(subtle.exportKey('pkcs8', pub), 'InvalidAccessError', 'pkcs8 public');
  }
}

export async function ecGeneratedPairs() {
  for (const curve of kCurves) {
    const { publicKey, privateKey } = await subtle.generateKey(ecdsa(curve), false,
                                                               ['sign', 'verify']);
    assertEquals(publicKey.extractable, true, 'public keys are always extractable');
    assertEquals(privateKey.extractable, false);
    assertEquals(publicKey.usages.join(), 'verify');
    assertEquals(privateKey.usages.join(), 'sign');
    assertEquals(publicKey.algorithm.namedCurve, curve);
    assert(publicKey.algorithm !== privateKey.algorithm, 'one algorithm object per key');
    const params = { name: 'ECDSA', hash: 'SHA-256' };
    const signature = await subtle.sign(params, privateKey, kMessage);
    assert(await subtle.verify(params, publicKey, signature, kMessage), 'verifies');
    const raw = new Uint8Array(await subtle.exportKey('raw', publicKey));
    assertEquals(raw[0], 4, 'uncompressed point');
  }
  await rejectsWith(subtle.generateKey(ecdsa('P-256'), true, ['verify']), 'SyntaxError',
                    'private key without usages');
  await rejectsWith(subtle.generateKey(ecdsa('P-192'), true, ['sign']), 'NotSupportedError',
                    'unknown curve');
}

export async function ecdhDerivesTheForeignSecret() {
  for (const curve of kCurves) {
    const v = vectors[curve];
    const ecdh = { name: 'ECDH', namedCurve: curve };
    const own = await subtle.importKey('pkcs8', fromHex(v.pkcs8), ecdh, false, ['deriveBits']);
    const peer = await subtle.importKey('spki', fromHex(v.peerSpki), ecdh, true, []);
    assertBytes(await subtle.deriveBits({ name: 'ECDH', public: peer }, own, null),
                v.sharedSecret, `${curve} full`);
    assertBytes(await subtle.deriveBits({ name: 'ECDH', public: peer }, own, 128),
                v.sharedSecret.slice(0, 32), `${curve} 128 bits`);
    const bits = new Uint8Array(await subtle.deriveBits({ name: 'ECDH', public: peer }, own, 12));
    assertEquals(bits.length, 2);
    assertEquals(bits[1] & 0x0F, 0, 'bits past the length are zero');
    await rejectsWith(subtle.deriveBits({ name: 'ECDH', public: peer }, own, 1024),
                      'OperationError', 'longer than the secret');
  }
}

export async function ecdhDeriveKeyAgreesBothWays() {
  const ecdh = { name: 'ECDH', namedCurve: 'P-256' };
  const alice = await subtle.generateKey(ecdh, false, ['deriveKey']);
  const bob = await subtle.generateKey(ecdh, false, ['deriveKey', 'deriveBits']);
  const aliceKey = await subtle.deriveKey({ name: 'ECDH', public: bob.publicKey },
                                          alice.privateKey, { name: 'AES-GCM', length: 256 },
                                          true, ['encrypt']);
  const bobKey = await subtle.deriveKey({ name: 'ECDH', public: alice.publicKey }, bob.privateKey,
                                        { name: 'AES-GCM', length: 256 }, true, ['encrypt']);
  assertEquals(toHex(await subtle.exportKey('raw', aliceKey)),
               toHex(await subtle.exportKey('raw', bobKey)));
  await rejectsWith(subtle.deriveBits({ name: 'ECDH', public: bob.publicKey }, alice.privateKey,
                                      256), 'InvalidAccessError', 'no deriveBits usage');
  const other = await subtle.generateKey({ name: 'ECDH', namedCurve: 'P-384' }, false,
                                         ['deriveBits']);
  await rejectsWith(subtle.deriveBits({ name: 'ECDH', public: other.publicKey }, bob.privateKey,
                                      256), 'InvalidAccessError', 'curve mismatch');
  await rejectsWith(subtle.deriveBits({ name: 'ECDH', public: bob.privateKey }, bob.privateKey,
                                      256), 'InvalidAccessError', 'public member is private');
  const signing = await subtle.generateKey(ecdsa('P-256'), false, ['sign']);
  await rejectsWith(subtle.deriveBits({ name: 'ECDH', public: signing.publicKey },
                                      bob.privateKey, 256),
                    'InvalidAccessError', 'public key of another algorithm');
  await rejectsWith(subtle.importKey('spki', fromHex(vectors['P-256'].spki), ecdh, true,
                                     ['deriveBits']), 'SyntaxError', 'ECDH public key usages');
}

export async function ecImportErrors() {
  const v = vectors['P-256'];
  await rejectsWith(subtle.importKey('spki', fromHex(v.spki), ecdsa('P-384'), true, ['verify']),
                    'DataError', 'curve mismatch');
  await rejectsWith(subtle.importKey('spki', fromHex(vectors.rsa.spki), ecdsa('P-256'), true,
                                     ['verify']), 'DataError', 'an RSA key');
  await rejectsWith(subtle.importKey('spki', fromHex(v.spki).subarray(1), ecdsa('P-256'), true,
                                     ['verify']), 'DataError', 'truncated DER');
  const spkiWithTrailer = new Uint8Array([...fromHex(v.spki), 0]);
  await rejectsWith(subtle.importKey('spki', spkiWithTrailer, ecdsa('P-256'), true, ['verify']),
                    'DataError', 'trailing bytes');
  const offCurve = fromHex(v.raw);
  offCurve[40] ^= 1;
  await rejectsWith(subtle.importKey('raw', offCurve, ecdsa('P-256'), true, ['verify']),
                    'DataError', 'point not on the curve');
  // The PKCS #8 key ends with its public point; another point there contradicts the scalar.
  const peerRaw = new Uint8Array(await subtle.exportKey('raw', await subtle.importKey(
      'spki', fromHex(v.peerSpki), { name: 'ECDH', namedCurve: 'P-256' }, true, [])));
  const mismatched = fromHex(v.pkcs8);
  mismatched.set(peerRaw, mismatched.length - 65);
  await rejectsWith(subtle.importKey('pkcs8', mismatched, ecdsa('P-256'), true, ['sign']),
                    'DataError', 'public point of another key');
  await rejectsWith(subtle.importKey('jwk', { ...v.jwk, d: v.jwk.x }, ecdsa('P-256'), true,
                                     ['sign']), 'DataError', 'd does not match x, y');
  await rejectsWith(subtle.importKey('jwk', { ...v.jwk, crv: 'P-384' }, ecdsa('P-256'), true,
                                     ['sign']), 'DataError', 'crv');
  await rejectsWith(subtle.importKey('jwk', { ...v.jwk, alg: 'ES384' }, ecdsa('P-256'), true,
                                     ['sign']), 'DataError', 'alg');
  await rejectsWith(subtle.importKey('jwk', v.jwk, ecdsa('P-256'), true, ['verify']),
                    'SyntaxError', 'verify on a private key');
  await rejectsWith(subtle.importKey('pkcs8', fromHex(v.pkcs8), ecdsa('P-256'), true, []),
                    'SyntaxError', 'private key without usages');
  const pub = await subtle.importKey('spki', fromHex(v.spki), ecdsa('P-256'), true, ['verify']);
  await rejectsWith(subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, pub, kMessage),
                    'InvalidAccessError', 'signing with a public key');
}

export async function p521RoundTrips() {
  const curve = 'P-521';
  const { publicKey, privateKey } = await subtle.generateKey(ecdsa(curve), true,
                                                             ['sign', 'verify']);
  const params = { name: 'ECDSA', hash: 'SHA-512' };
  const signature = await subtle.sign(params, privateKey, kMessage);
  assertEquals(signature.byteLength, 132, 'r || s of 66 bytes each');
  const jwk = await subtle.exportKey('jwk', privateKey);
  const fromJwk = await subtle.importKey('jwk', jwk, ecdsa(curve), false, ['sign']);
  const raw = await subtle.exportKey('raw', publicKey);
  assertEquals(raw.byteLength, 133);
  const fromRaw = await subtle.importKey('raw', raw, ecdsa(curve), false, ['verify']);
  assert(await subtle.verify(params, fromRaw, await subtle.sign(params, fromJwk, kMessage),
                             kMessage), 'verifies across formats');
}

export async function ecdhIntoHkdfIntoAes() {
  // The usual key-agreement pattern: the full shared secret becomes an HKDF key.
  const ecdh = { name: 'ECDH', namedCurve: 'P-384' };
  const a = await subtle.generateKey(ecdh, false, ['deriveKey']);
  const b = await subtle.generateKey(ecdh, false, ['deriveKey']);
  const hkdfA = await subtle.deriveKey({ name: 'ECDH', public: b.publicKey }, a.privateKey,
                                       'HKDF', false, ['deriveKey']);
  const hkdfB = await subtle.deriveKey({ name: 'ECDH', public: a.publicKey }, b.privateKey,
                                       'HKDF', false, ['deriveKey']);
  const params = { name: 'HKDF', hash: 'SHA-256', salt: utf8('salt'), info: utf8('aes') };
  const aesA = await subtle.deriveKey(params, hkdfA, { name: 'AES-GCM', length: 128 }, true,
                                      ['encrypt']);
  const aesB = await subtle.deriveKey(params, hkdfB, { name: 'AES-GCM', length: 128 }, true,
                                      ['encrypt']);
  assertEquals(toHex(await subtle.exportKey('raw', aesA)),
               toHex(await subtle.exportKey('raw', aesB)));
  await rejectsWith(subtle.deriveKey({ name: 'ECDH', public: b.publicKey }, a.privateKey, 'HKDF',
                                     true, ['deriveKey']), 'SyntaxError',
                    'HKDF keys cannot be extractable');
}

// A PKCS #8 EC key without its optional public key (made with openssl ec -no_public): the
// public point is derived, so the key signs and exports as JWK.
const kPkcs8WithoutPublicKey =
    '3041020100301306072a8648ce3d020106082a8648ce3d0301070427302502010104203f718a8f32' +
    'a644dcdf08a91d13e4f017a06247ce4ccd1e96d6cfd981efc81ca2';
const kItsSpki =
    '3059301306072a8648ce3d020106082a8648ce3d030107034200042bf3028616802bd61463ab3184' +
    '38a73dea8217abafe6e7060533bba8cb64d96d3849d9b1f13d44560dc1713bae3533aeea18f3a1cc' +
    'eb48183576f6f0e1e2f476';

export async function pkcs8WithoutThePublicKey() {
  const priv = await subtle.importKey('pkcs8', fromHex(kPkcs8WithoutPublicKey), ecdsa('P-256'),
                                      true, ['sign']);
  const pub = await subtle.importKey('spki', fromHex(kItsSpki), ecdsa('P-256'), true, ['verify']);
  const params = { name: 'ECDSA', hash: 'SHA-256' };
  const signature = await subtle.sign(params, priv, kMessage);
  assert(await subtle.verify(params, pub, signature, kMessage), 'verifies with the real spki');
  const jwk = await subtle.exportKey('jwk', priv);
  assertEquals(jwk.x, (await subtle.exportKey('jwk', pub)).x);
}
