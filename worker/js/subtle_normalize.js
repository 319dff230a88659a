// Algorithm normalisation
// (https://w3c.github.io/webcrypto/#algorithm-normalization-normalize-an-algorithm): the
// registry of algorithm names each operation accepts and the WebIDL dictionary each one's
// parameters convert to. Conversion errors are TypeErrors, unknown names NotSupportedErrors,
// as the spec says.
import { isCryptoKey } from './crypto_key.js';
import { DOMException } from './dom_exception.js';

// The WebIDL conversions of dictionary members.
function bufferSource(value, member) {
  if (ArrayBuffer.isView(value)) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength).slice();
  }
  if (value instanceof ArrayBuffer) return new Uint8Array(value).slice();
  throw new TypeError(`${member} must be an ArrayBuffer or an ArrayBufferView`);
}

// [EnforceRange] integer types.
function enforceRange(max) {
  return (value, member) => {
    const number = Number(value);
    if (!Number.isFinite(number)) throw new TypeError(`${member} must be a finite number`);
    const integer = Math.trunc(number);
    if (integer < 0 || integer > max) {
      throw new TypeError(`${member} must be between 0 and ${max}`);
    }
    return integer;
  };
}
const octet = enforceRange(0xFF);
const unsignedShort = enforceRange(0xFFFF);
const unsignedLong = enforceRange(0xFFFFFFFF);

function domString(value, member) {
  if (typeof value === 'symbol') throw new TypeError(`${member} must be a string`);
  return String(value);
}

function bigInteger(value, member) {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${member} must be a Uint8Array`);
  return value.slice();
}

function cryptoKey(value, member) {
  if (!isCryptoKey(value)) throw new TypeError(`${member} must be a CryptoKey`);
  return value;
}

function hashAlgorithm(value, member) {
  try {
    return normalizeAlgorithm('digest', value);
  } catch (error) {
    if (error instanceof TypeError) throw new TypeError(`${member}: ${error.message}`);
    throw error;
  }
}

// Dictionaries: member -> [converter, required].
const Algorithm = {};
const AesCtrParams = { counter: [bufferSource, true], length: [octet, true] };
const AesCbcParams = { iv: [bufferSource, true] };
const AesGcmParams = {
  iv: [bufferSource, true], additionalData: [bufferSource, false], tagLength: [octet, false],
};
const AesKeyGenParams = { length: [unsignedShort, true] };
const HmacImportParams = { hash: [hashAlgorithm, true], length: [unsignedLong, false] };
const RsaHashedKeyGenParams = {
  modulusLength: [unsignedLong, true], publicExponent: [bigInteger, true],
  hash: [hashAlgorithm, true],
};
const RsaHashedImportParams = { hash: [hashAlgorithm, true] };
const RsaPssParams = { saltLength: [unsignedLong, true] };
const RsaOaepParams = { label: [bufferSource, false] };
const EcKeyGenParams = { namedCurve: [domString, true] };
const EcdsaParams = { hash: [hashAlgorithm, true] };
const EcdhKeyDeriveParams = { public: [cryptoKey, true] };
const HkdfParams = {
  hash: [hashAlgorithm, true], salt: [bufferSource, true], info: [bufferSource, true],
};
const Pbkdf2Params = {
  salt: [bufferSource, true], iterations: [unsignedLong, true], hash: [hashAlgorithm, true],
};

const kRsa = ['RSASSA-PKCS1-v1_5', 'RSA-PSS', 'RSA-OAEP'];
const kAes = ['AES-CTR', 'AES-CBC', 'AES-GCM', 'AES-KW'];

function entries(names, dictionary) {
  return names.map((name) => [name, dictionary]);
}

// Operation -> canonical algorithm name -> parameter dictionary.
const kRegistry = {
  digest: entries(['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512'], Algorithm),
  sign: [['RSASSA-PKCS1-v1_5', Algorithm], ['RSA-PSS', RsaPssParams], ['ECDSA', EcdsaParams],
         ['Ed25519', Algorithm], ['HMAC', Algorithm]],
  encrypt: [['RSA-OAEP', RsaOaepParams], ['AES-CTR', AesCtrParams], ['AES-CBC', AesCbcParams],
            ['AES-GCM', AesGcmParams]],
  generateKey: [...entries(kRsa, RsaHashedKeyGenParams),
                ...entries(['ECDSA', 'ECDH'], EcKeyGenParams),
                ...entries(['Ed25519', 'X25519'], Algorithm),
                ...entries(kAes, AesKeyGenParams), ['HMAC', HmacImportParams]],
  importKey: [...entries(kRsa, RsaHashedImportParams),
              ...entries(['ECDSA', 'ECDH'], EcKeyGenParams),
              ...entries(['Ed25519', 'X25519', ...kAes, 'HKDF', 'PBKDF2'], Algorithm),
              ['HMAC', HmacImportParams]],
  deriveBits: [...entries(['ECDH', 'X25519'], EcdhKeyDeriveParams), ['HKDF', HkdfParams],
               ['PBKDF2', Pbkdf2Params]],
  'get key length': [...entries(kAes, AesKeyGenParams), ['HMAC', HmacImportParams],
                     ...entries(['HKDF', 'PBKDF2'], Algorithm)],
  wrapKey: [['AES-KW', Algorithm]],
};
kRegistry.verify = kRegistry.sign;
kRegistry.decrypt = kRegistry.encrypt;
kRegistry.unwrapKey = kRegistry.wrapKey;

// Lookup tables keyed by the upper-cased name (names match case-insensitively).
const kLookup = Object.fromEntries(Object.entries(kRegistry).map(([op, list]) => [
  op, new Map(list.map(([name, dictionary]) => [name.toUpperCase(), [name, dictionary]])),
]));

// Returns a fresh object: {name (canonical), ...converted members}. `op` is a key of
// kRegistry.
export function normalizeAlgorithm(op, algorithm) {
  if (typeof algorithm === 'string') return normalizeAlgorithm(op, { name: algorithm });
  if (typeof algorithm !== 'object' || algorithm === null) {
    throw new TypeError('the algorithm must be a string or an object');
  }
  if (algorithm.name === undefined) throw new TypeError('the algorithm has no name');
  const name = domString(algorithm.name, 'name');
  const found = kLookup[op].get(name.toUpperCase());
  if (!found) {
    throw new DOMException(`Unrecognized or unsupported algorithm for ${op}: ${name}`,
                           'NotSupportedError');
  }
  const [canonical, dictionary] = found;
  const normalized = { name: canonical };
  // WebIDL converts dictionary members in lexicographic order.
  for (const member of Object.keys(dictionary).sort()) {
    const [convert, required] = dictionary[member];
    const value = algorithm[member];
    if (value === undefined) {
      if (required) throw new TypeError(`${canonical}: the ${member} member is required`);
      continue;
    }
    normalized[member] = convert(value, `${canonical}.${member}`);
  }
  return normalized;
}

export { bufferSource };
