// crypto.subtle's secret-key algorithms: AES-CTR, AES-CBC, AES-GCM, AES-KW, HMAC, HKDF and
// PBKDF2. Each handler implements the spec's operations for its algorithm; subtle.js has
// already normalised the parameters and checked the key's algorithm and usages.
import { createKey, keyMaterial, slotsOf } from './crypto_key.js';
import {
  bytesOf, callNative, checkJwk, checkUsages, encodeBase64url, fail, finishJwk, jwkBytes,
  randomBytes,
} from './subtle_common.js';

const kAesUsages = ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey'];
const kJwkAlgSuffix = { 'AES-CTR': 'CTR', 'AES-CBC': 'CBC', 'AES-GCM': 'GCM', 'AES-KW': 'KW' };
const kGcmTagLengths = [32, 64, 96, 104, 112, 120, 128];

function checkAesLength(bits, errorName) {
  if (bits !== 128 && bits !== 192 && bits !== 256) {
    fail(errorName, 'AES key length must be 128, 192 or 256 bits');
  }
}

function aesHandler(name, cipher) {
  const usagesAllowed = name === 'AES-KW' ? ['wrapKey', 'unwrapKey'] : kAesUsages;
  const jwkAlg = (bits) => `A${bits}${kJwkAlgSuffix[name]}`;
  const handler = {
    generateKey(algorithm, extractable, usages) {
      checkUsages(usages, usagesAllowed, name);
      checkAesLength(algorithm.length, 'OperationError');
      return createKey('secret', extractable, { name, length: algorithm.length }, usages,
                       randomBytes(algorithm.length / 8));
    },
    importKey(format, keyData, algorithm, extractable, usages) {
      checkUsages(usages, usagesAllowed, name);
      let bytes;
      if (format === 'raw') {
        bytes = keyData;
      } else if (format === 'jwk') {
        checkJwk(keyData, { kty: 'oct', use: 'enc', usages, extractable, what: name });
        bytes = jwkBytes(keyData, 'k', name);
        if (keyData.alg !== undefined && keyData.alg !== jwkAlg(bytes.length * 8)) {
          fail('DataError', `${name}: the JWK's alg must be "${jwkAlg(bytes.length * 8)}"`);
        }
      } else {
        fail('NotSupportedError', `${name}: keys cannot be imported in the ${format} format`);
      }
      checkAesLength(bytes.length * 8, 'DataError');
      return createKey('secret', extractable, { name, length: bytes.length * 8 }, usages,
                       bytes.slice());
    },
    exportKey(format, key) {
      const bytes = keyMaterial(key);
      if (format === 'raw') return bytes.slice().buffer;
      if (format === 'jwk') {
        return finishJwk({ kty: 'oct', k: encodeBase64url(bytes), alg: jwkAlg(bytes.length * 8) },
                         key);
      }
      return fail('NotSupportedError', `${name}: keys cannot be exported in the ${format} format`);
    },
    getKeyLength(algorithm) {
      checkAesLength(algorithm.length, 'OperationError');
      return algorithm.length;
    },
  };
  return Object.assign(handler, cipher);
}

const aesCtr = aesHandler('AES-CTR', {
  encrypt(algorithm, key, data) {
    return callNative('aesCtr', keyMaterial(key), algorithm.counter, algorithm.length, data);
  },
  decrypt(algorithm, key, data) {
    return callNative('aesCtr', keyMaterial(key), algorithm.counter, algorithm.length, data);
  },
});

const aesCbc = aesHandler('AES-CBC', {
  encrypt(algorithm, key, data) {
    return callNative('aesCbc', true, keyMaterial(key), algorithm.iv, data);
  },
  decrypt(algorithm, key, data) {
    return callNative('aesCbc', false, keyMaterial(key), algorithm.iv, data);
  },
});

function gcm(encrypt) {
  return (algorithm, key, data) => {
    const tagLength = algorithm.tagLength ?? 128;
    if (!kGcmTagLengths.includes(tagLength)) {
      fail('OperationError', `AES-GCM: a tag length of ${tagLength} bits is not allowed`);
    }
    return callNative('aesGcm', encrypt, keyMaterial(key), algorithm.iv, data,
                      algorithm.additionalData ?? new Uint8Array(0), tagLength);
  };
}
const aesGcm = aesHandler('AES-GCM', { encrypt: gcm(true), decrypt: gcm(false) });

const aesKw = aesHandler('AES-KW', {
  wrapKey(algorithm, key, bytes) {
    return callNative('aesKw', true, keyMaterial(key), bytes);
  },
  unwrapKey(algorithm, key, bytes) {
    return callNative('aesKw', false, keyMaterial(key), bytes);
  },
});

// HMAC: the key length in bits defaults to the hash's block size.
const kBlockBits = { 'SHA-1': 512, 'SHA-256': 512, 'SHA-384': 1024, 'SHA-512': 1024 };
const kHmacJwkAlg = { 'SHA-1': 'HS1', 'SHA-256': 'HS256', 'SHA-384': 'HS384', 'SHA-512': 'HS512' };

const hmac = {
  generateKey(algorithm, extractable, usages) {
    checkUsages(usages, ['sign', 'verify'], 'HMAC');
    const length = algorithm.length ?? kBlockBits[algorithm.hash.name];
    if (length === 0) fail('OperationError', 'HMAC: the key length must not be zero');
    const bytes = randomBytes(Math.ceil(length / 8));
    if (length % 8) bytes[bytes.length - 1] &= 0xFF << (8 - length % 8);
    return createKey('secret', extractable,
                     { name: 'HMAC', length, hash: { name: algorithm.hash.name } }, usages, bytes);
  },
  importKey(format, keyData, algorithm, extractable, usages) {
    checkUsages(usages, ['sign', 'verify'], 'HMAC');
    let bytes;
    if (format === 'raw') {
      bytes = keyData;
    } else if (format === 'jwk') {
      checkJwk(keyData, { kty: 'oct', use: 'sig', usages, extractable, what: 'HMAC' });
      bytes = jwkBytes(keyData, 'k', 'HMAC');
      const expected = kHmacJwkAlg[algorithm.hash.name];
      if (keyData.alg !== undefined && keyData.alg !== expected) {
        fail('DataError', `HMAC: the JWK's alg must be "${expected}"`);
      }
    } else {
      fail('NotSupportedError', `HMAC: keys cannot be imported in the ${format} format`);
    }
    let length = bytes.length * 8;
    if (length === 0) fail('DataError', 'HMAC: the key must not be empty');
    if (algorithm.length !== undefined) {
      if (algorithm.length > length || algorithm.length <= length - 8) {
        fail('DataError', `HMAC: a length of ${algorithm.length} bits does not match the key`);
      }
      length = algorithm.length;
    }
    return createKey('secret', extractable,
                     { name: 'HMAC', length, hash: { name: algorithm.hash.name } }, usages,
                     bytes.slice());
  },
  exportKey(format, key) {
    const bytes = keyMaterial(key);
    if (format === 'raw') return bytes.slice().buffer;
    if (format === 'jwk') {
      return finishJwk({ kty: 'oct', k: encodeBase64url(bytes),
                         alg: kHmacJwkAlg[slotsOf(key).algorithm.hash.name] }, key);
    }
    return fail('NotSupportedError', `HMAC: keys cannot be exported in the ${format} format`);
  },
  sign(algorithm, key, data) {
    return callNative('hmacSign', slotsOf(key).algorithm.hash.name, keyMaterial(key), data);
  },
  verify(algorithm, key, signature, data) {
    return callNative('hmacVerify', slotsOf(key).algorithm.hash.name, keyMaterial(key), signature,
                      data);
  },
  getKeyLength(algorithm) {
    if (algorithm.length === undefined) return kBlockBits[algorithm.hash.name];
    if (algorithm.length === 0) throw new TypeError('HMAC: the key length must not be zero');
    return algorithm.length;
  },
};

// HKDF and PBKDF2 keys: raw secrets that can only be derived from, never exported.
function kdfHandler(name, derive, checkParams) {
  return {
    importKey(format, keyData, algorithm, extractable, usages) {
      if (format !== 'raw') {
        fail('NotSupportedError', `${name}: keys can only be imported in the raw format`);
      }
      checkUsages(usages, ['deriveKey', 'deriveBits'], name);
      if (extractable) fail('SyntaxError', `${name}: keys cannot be extractable`);
      return createKey('secret', false, { name }, usages, keyData.slice());
    },
    deriveBits(algorithm, key, length) {
      if (length === null) fail('OperationError', `${name}: a length is required`);
      if (length % 8 !== 0) fail('OperationError', `${name}: the length must be a multiple of 8`);
      checkParams?.(algorithm);
      // A zero length yields no bits (w3c/webcrypto#380); OpenSSL refuses to derive nothing.
      if (length === 0) return new ArrayBuffer(0);
      return derive(algorithm, keyMaterial(key), length / 8);
    },
    getKeyLength() {
      return null;
    },
  };
}

const hkdf = kdfHandler('HKDF', (algorithm, key, length) => callNative(
    'hkdf', algorithm.hash.name, key, algorithm.salt, algorithm.info, length));

const pbkdf2 = kdfHandler('PBKDF2', (algorithm, key, length) => callNative(
    'pbkdf2', algorithm.hash.name, key, algorithm.salt, algorithm.iterations, length),
                          (algorithm) => {
  if (algorithm.iterations === 0) fail('OperationError', 'PBKDF2: iterations must not be zero');
});

export const symmetricHandlers = {
  'AES-CTR': aesCtr, 'AES-CBC': aesCbc, 'AES-GCM': aesGcm, 'AES-KW': aesKw, HMAC: hmac,
  HKDF: hkdf, PBKDF2: pbkdf2,
};

export { bytesOf };
