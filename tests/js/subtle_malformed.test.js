// crypto.subtle against malformed key data: every single-byte corruption of valid DER and
// raw keys either imports (the byte did not matter, e.g. inside an integer) or rejects with a
// DataError; nothing else escapes, and nothing crashes.
import { assert } from './lib/assert.js';
import { vectors } from './lib/subtle_vectors.js';
import { fromHex } from './lib/subtle_helpers.js';

const subtle = crypto.subtle;

// Imports every variant of `bytes` with one byte XORed with `mask`, at positions `step` apart.
async function corruptEachByte(label, bytes, step, importVariant) {
  let imported = 0;
  let rejected = 0;
  for (let i = 0; i < bytes.length; i += step) {
    for (const mask of [0x01, 0x80, 0xFF]) {
      const variant = bytes.slice();
      variant[i] ^= mask;
      try {
        await importVariant(variant);
        imported++;
      } catch (error) {
        if (error?.name !== 'DataError') {
          throw new Error(`${label}: byte ${i} ^ ${mask}: ${error?.name}: ${error?.message}`);
        }
        rejected++;
      }
    }
  }
  assert(rejected > 0, `${label}: some corruption is detected`);
  return imported;
}

export async function corruptedEcKeys() {
  const v = vectors['P-256'];
  const ecdsa = { name: 'ECDSA', namedCurve: 'P-256' };
  await corruptEachByte('spki', fromHex(v.spki), 1,
                        (bytes) => subtle.importKey('spki', bytes, ecdsa, true, ['verify']));
  await corruptEachByte('raw', fromHex(v.raw), 1,
                        (bytes) => subtle.importKey('raw', bytes, ecdsa, true, ['verify']));
  await corruptEachByte('pkcs8', fromHex(v.pkcs8), 1,
                        (bytes) => subtle.importKey('pkcs8', bytes, ecdsa, true, ['sign']));
}

export async function corruptedRsaKeys() {
  const rsa = { name: 'RSA-PSS', hash: 'SHA-256' };
  await corruptEachByte('spki', fromHex(vectors.rsa.spki), 3,
                        (bytes) => subtle.importKey('spki', bytes, rsa, true, ['verify']));
  await corruptEachByte('pkcs8', fromHex(vectors.rsa.pkcs8), 41,
                        (bytes) => subtle.importKey('pkcs8', bytes, rsa, true, ['sign']));
}

export async function truncatedAndEmptyKeys() {
  const ecdsa = { name: 'ECDSA', namedCurve: 'P-256' };
  const spki = fromHex(vectors['P-256'].spki);
  for (let length = 0; length < spki.length; length++) {
    let name = 'none';
    try {
      await subtle.importKey('spki', spki.subarray(0, length), ecdsa, true, ['verify']);
    } catch (error) {
      name = error.name;
    }
    assert(name === 'DataError', `truncated to ${length} bytes: ${name}`);
  }
}
