// crypto.subtle operation costs, in microseconds per operation. The same file runs in both
// runtimes, so the figures compare side by side on one machine:
//   build/isolated test bench/subtle.mjs     (each exported function is one `test`, which
//                                             must stay under its 5 s CPU budget)
//   node bench/subtle.mjs                    (Node.js's WebCrypto, also OpenSSL 3)
const subtle = globalThis.crypto.subtle;
const kMessage = new Uint8Array(64);

// Runs `op` (which returns a promise) until `budgetMs` of wall time has passed and prints the
// mean time per call.
async function measure(label, op, budgetMs = 400) {
  for (let i = 0; i < 5; i++) await op();  // warm-up
  let count = 0;
  const start = performance.now();
  while (performance.now() - start < budgetMs) {
    await op();
    count++;
  }
  const perOp = (performance.now() - start) * 1000 / count;
  console.log(`${label.padEnd(28)} ${perOp.toFixed(1).padStart(9)} us/op  (${count} ops)`);
}

export async function symmetric() {
  const hmac = await subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const aes = await subtle.generateKey({ name: 'AES-GCM', length: 128 }, false, ['encrypt']);
  const mebibyte = new Uint8Array(1 << 20);
  const pbkdf2 = await subtle.importKey('raw', new Uint8Array(16), 'PBKDF2', false,
                                        ['deriveBits']);
  await measure('SHA-256 digest, 64 B', () => subtle.digest('SHA-256', kMessage));
  await measure('HMAC-SHA-256 sign, 64 B', () => subtle.sign('HMAC', hmac, kMessage));
  await measure('AES-128-GCM encrypt, 1 MiB',
                () => subtle.encrypt({ name: 'AES-GCM', iv: new Uint8Array(12) }, aes, mebibyte));
  await measure('PBKDF2-SHA-256, 10000 it.', () => subtle.deriveBits(
      { name: 'PBKDF2', hash: 'SHA-256', salt: new Uint8Array(16), iterations: 10000 }, pbkdf2,
      256));
}

export async function ellipticCurves() {
  const ecdsa = await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false,
                                         ['sign', 'verify']);
  const params = { name: 'ECDSA', hash: 'SHA-256' };
  const signature = await subtle.sign(params, ecdsa.privateKey, kMessage);
  const ed = await subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
  const edSignature = await subtle.sign('Ed25519', ed.privateKey, kMessage);
  const ecdh = await subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false,
                                        ['deriveBits']);
  await measure('ECDSA P-256 sign', () => subtle.sign(params, ecdsa.privateKey, kMessage));
  await measure('ECDSA P-256 verify',
                () => subtle.verify(params, ecdsa.publicKey, signature, kMessage));
  await measure('Ed25519 sign', () => subtle.sign('Ed25519', ed.privateKey, kMessage));
  await measure('Ed25519 verify',
                () => subtle.verify('Ed25519', ed.publicKey, edSignature, kMessage));
  await measure('ECDH P-256 deriveBits', () => subtle.deriveBits(
      { name: 'ECDH', public: ecdh.publicKey }, ecdh.privateKey, 256));
}

export async function rsa() {
  const algorithm = { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048,
                      publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
  const keys = await subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const signature = await subtle.sign('RSASSA-PKCS1-v1_5', keys.privateKey, kMessage);
  const spki = await subtle.exportKey('spki', keys.publicKey);
  await measure('RSA-2048 PKCS1 sign',
                () => subtle.sign('RSASSA-PKCS1-v1_5', keys.privateKey, kMessage));
  await measure('RSA-2048 PKCS1 verify',
                () => subtle.verify('RSASSA-PKCS1-v1_5', keys.publicKey, signature, kMessage));
  await measure('RSA-2048 spki import', () => subtle.importKey(
      'spki', spki, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['verify']));
}

if (typeof process === 'object' && process.versions?.node) {
  for (const run of [symmetric, ellipticCurves, rsa]) await run();
}
