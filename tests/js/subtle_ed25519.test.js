// crypto.subtle Ed25519 (RFC 8032) and X25519 (RFC 7748): known answers, every key format,
// round trips and errors.
import { assert, assertEquals } from './lib/assert.js';
import { vectors } from './lib/subtle_vectors.js';
import { assertBytes, fromHex, rejectsWith, toHex } from './lib/subtle_helpers.js';
import { encodeHexAsBase64url } from './lib/subtle_jwk.js';

const subtle = crypto.subtle;

// RFC 8032 §7.1, tests 1 and 2.
const kTests = [
  {
    secret: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    public: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bac' +
               'c61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    secret: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    public: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e1599' +
               '6e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
];

export async function ed25519MatchesRfc8032() {
  const t = kTests[0];
  const jwk = { kty: 'OKP', crv: 'Ed25519', x: encodeHexAsBase64url(t.public),
                d: encodeHexAsBase64url(t.secret) };
  const priv = await subtle.importKey('jwk', jwk, 'Ed25519', true, ['sign']);
  assertEquals(priv.algorithm.name, 'Ed25519');
  assertBytes(await subtle.sign('Ed25519', priv, fromHex(t.message)), t.signature, 'test 1');
  const pub = await subtle.importKey('raw', fromHex(t.public), { name: 'ed25519' }, true,
                                     ['verify']);
  assertEquals(await subtle.verify('Ed25519', pub, fromHex(t.signature), fromHex(t.message)),
               true);
  assertEquals(await subtle.verify('Ed25519', pub, fromHex(t.signature), new Uint8Array(1)),
               false, 'other message');
  const t2 = kTests[1];
  const priv2 = await subtle.importKey('jwk', { kty: 'OKP', crv: 'Ed25519',
                                                x: encodeHexAsBase64url(t2.public),
                                                d: encodeHexAsBase64url(t2.secret) },
                                       'Ed25519', false, ['sign']);
  assertBytes(await subtle.sign('Ed25519', priv2, fromHex(t2.message)), t2.signature, 'test 2');
}

export async function ed25519KeysInEveryFormat() {
  const t = kTests[0];
  const priv = await subtle.importKey('jwk', { kty: 'OKP', crv: 'Ed25519',
                                               x: encodeHexAsBase64url(t.public),
                                               d: encodeHexAsBase64url(t.secret) },
                                      'Ed25519', true, ['sign']);
  const pkcs8 = await subtle.exportKey('pkcs8', priv);
  const fromPkcs8 = await subtle.importKey('pkcs8', pkcs8, 'Ed25519', true, ['sign']);
  const jwk = await subtle.exportKey('jwk', fromPkcs8);
  assertEquals(jwk.kty, 'OKP');
  assertEquals(jwk.crv, 'Ed25519');
  assertEquals(jwk.alg, 'Ed25519');
  assertEquals(jwk.d, encodeHexAsBase64url(t.secret));
  assertEquals(jwk.x, encodeHexAsBase64url(t.public));
  const pub = await subtle.importKey('raw', fromHex(t.public), 'Ed25519', true, ['verify']);
  const spki = await subtle.exportKey('spki', pub);
  assertEquals(toHex(spki), '302a300506032b6570032100' + t.public, 'RFC 8410 SubjectPublicKeyInfo');
  const fromSpki = await subtle.importKey('spki', spki, 'Ed25519', true, ['verify']);
  assertBytes(await subtle.exportKey('raw', fromSpki), t.public);
  const pubJwk = await subtle.exportKey('jwk', fromSpki);
  assertEquals(pubJwk.d, undefined);
  const fromJwk = await subtle.importKey('jwk', pubJwk, 'Ed25519', true, ['verify']);
  assertEquals(await subtle.verify('Ed25519', fromJwk, fromHex(t.signature), new Uint8Array(0)),
               true);
}

export async function ed25519GenerateSignVerify() {
  const { publicKey, privateKey } = await subtle.generateKey('Ed25519', true, ['sign', 'verify']);
  const data = new Uint8Array([1, 2, 3]);
  const signature = await subtle.sign('Ed25519', privateKey, data);
  assertEquals(signature.byteLength, 64);
  assert(await subtle.verify('Ed25519', publicKey, signature, data), 'verifies');
  assertEquals((await subtle.exportKey('raw', publicKey)).byteLength, 32);
}

export async function ed25519Errors() {
  const t = kTests[0];
  await rejectsWith(subtle.importKey('raw', fromHex(t.public).subarray(1), 'Ed25519', true,
                                     ['verify']), 'DataError', 'short raw key');
  await rejectsWith(subtle.importKey('jwk', { kty: 'OKP', crv: 'Ed25519',
                                              x: encodeHexAsBase64url(kTests[1].public),
                                              d: encodeHexAsBase64url(t.secret) },
                                     'Ed25519', true, ['sign']), 'DataError', 'x does not match d');
  await rejectsWith(subtle.importKey('jwk', { kty: 'OKP', crv: 'X25519',
                                              x: encodeHexAsBase64url(t.public) },
                                     'Ed25519', true, ['verify']), 'DataError', 'crv');
  await rejectsWith(subtle.importKey('spki', fromHex(vectors['P-256'].spki), 'Ed25519', true,
                                     ['verify']), 'DataError', 'an EC key');
  await rejectsWith(subtle.importKey('raw', fromHex(t.public), 'Ed25519', true, ['sign']),
                    'SyntaxError', 'sign on a public key');
}

export async function x25519DerivesTheForeignSecret() {
  const v = vectors.x25519;
  const own = await subtle.importKey('pkcs8', fromHex(v.pkcs8), 'X25519', false, ['deriveBits']);
  const peer = await subtle.importKey('raw', fromHex(v.peerRaw), 'X25519', true, []);
  assertBytes(await subtle.deriveBits({ name: 'X25519', public: peer }, own, 256),
              v.sharedSecret);
  const a = await subtle.generateKey('X25519', true, ['deriveBits']);
  const b = await subtle.generateKey('X25519', true, ['deriveBits']);
  assertEquals(toHex(await subtle.deriveBits({ name: 'X25519', public: b.publicKey },
                                             a.privateKey, null)),
               toHex(await subtle.deriveBits({ name: 'X25519', public: a.publicKey },
                                             b.privateKey, null)), 'agreement');
  const jwk = await subtle.exportKey('jwk', a.privateKey);
  assertEquals(jwk.crv, 'X25519');
  assertEquals(jwk.alg, undefined, 'X25519 has no JOSE alg');
  const back = await subtle.importKey('jwk', jwk, 'X25519', false, ['deriveBits']);
  assertEquals(back.type, 'private');
}
