// SubtleCrypto (https://w3c.github.io/webcrypto/#subtlecrypto-interface): argument
// conversion, algorithm normalisation and the key checks every method shares, dispatching to
// the per-algorithm handlers of subtle_symmetric.js and subtle_asymmetric.js. Every method
// returns a promise and reports every error, TypeErrors included, by rejecting it. The work
// itself is synchronous native code (bounded: see worker/subtle/subtle_bindings.h), so a
// promise is settled by the time the method returns.
import { CryptoKey, isCryptoKey, slotsOf } from './crypto_key.js';
import { DOMException } from './dom_exception.js';
import { encodeUtf8, decodeUtf8 } from './subtle_text.js';
import { callNative, fail } from './subtle_common.js';
import { bufferSource, normalizeAlgorithm } from './subtle_normalize.js';
import { asymmetricHandlers } from './subtle_asymmetric.js';
import { symmetricHandlers } from './subtle_symmetric.js';

const kHandlers = { ...symmetricHandlers, ...asymmetricHandlers };
const kFormats = ['raw', 'spki', 'pkcs8', 'jwk'];
const kUsages = ['encrypt', 'decrypt', 'sign', 'verify', 'deriveKey', 'deriveBits', 'wrapKey',
                 'unwrapKey'];
const kJwkStrings = ['kty', 'use', 'alg', 'crv', 'x', 'y', 'd', 'n', 'e', 'p', 'q', 'dp', 'dq',
                     'qi', 'k'];
const kConstruct = Symbol('SubtleCrypto construction');

function toFormat(format) {
  const value = String(format);
  if (!kFormats.includes(value)) throw new TypeError(`"${value}" is not a valid KeyFormat`);
  return value;
}

function toUsages(usages) {
  if (typeof usages !== 'object' || usages === null || !(Symbol.iterator in usages)) {
    throw new TypeError('keyUsages must be a sequence of KeyUsage strings');
  }
  return Array.from(usages, (usage) => {
    const value = String(usage);
    if (!kUsages.includes(value)) throw new TypeError(`"${value}" is not a valid KeyUsage`);
    return value;
  });
}

function toKey(value, what) {
  if (!isCryptoKey(value)) throw new TypeError(`${what} must be a CryptoKey`);
  return value;
}

// The JsonWebKey dictionary: string members converted, key_ops a sequence, ext a boolean.
function toJwk(value) {
  if (typeof value !== 'object' || value === null) {
    throw new TypeError('a jwk keyData must be a JsonWebKey object');
  }
  const jwk = {};
  for (const member of kJwkStrings) {
    if (value[member] !== undefined) jwk[member] = String(value[member]);
  }
  if (value.key_ops !== undefined) {
    if (typeof value.key_ops !== 'object' || !(Symbol.iterator in value.key_ops)) {
      throw new TypeError('the JWK key_ops must be a sequence of strings');
    }
    jwk.key_ops = Array.from(value.key_ops, String);
  }
  if (value.ext !== undefined) jwk.ext = Boolean(value.ext);
  if (value.oth !== undefined) jwk.oth = value.oth;
  return jwk;
}

// The handler of a normalised algorithm that implements `operation`, else NotSupportedError.
function handlerFor(algorithm, operation) {
  const handler = kHandlers[algorithm.name];
  if (!handler?.[operation]) {
    fail('NotSupportedError', `${algorithm.name} does not support ${operation}`);
  }
  return handler;
}

// The checks every operation on an existing key makes: the key's algorithm is the one asked
// for, and the key allows the usage.
function checkKey(key, algorithm, usage) {
  if (slotsOf(key).algorithm.name !== algorithm.name) {
    fail('InvalidAccessError',
         `the key is a ${slotsOf(key).algorithm.name} key, not ${algorithm.name}`);
  }
  if (!slotsOf(key).usages.includes(usage)) {
    fail('InvalidAccessError', `the key's usages do not include "${usage}"`);
  }
}

function importKey(format, keyData, algorithm, extractable, usages) {
  const key = handlerFor(algorithm, 'importKey')
                  .importKey(format, keyData, algorithm, extractable, usages);
  const { type, usages: granted } = slotsOf(key);
  if ((type === 'secret' || type === 'private') && granted.length === 0) {
    fail('SyntaxError', `a ${type} key needs at least one usage`);
  }
  return key;
}

function exportKey(format, key) {
  const handler = kHandlers[slotsOf(key).algorithm.name];
  if (!handler?.exportKey) {
    fail('NotSupportedError', `${slotsOf(key).algorithm.name} keys cannot be exported`);
  }
  if (!slotsOf(key).extractable) fail('InvalidAccessError', 'the key is not extractable');
  return handler.exportKey(format, key);
}

function deriveBits(algorithm, baseKey, length) {
  return handlerFor(algorithm, 'deriveBits').deriveBits(algorithm, baseKey, length);
}

// A promise settled by running `steps` now.
function run(steps) {
  try {
    return Promise.resolve(steps());
  } catch (error) {
    return Promise.reject(error);
  }
}

function checkThis(self) {
  if (!(self instanceof SubtleCrypto)) throw new TypeError('Illegal invocation');
}

function optionalLength(length) {
  if (length === undefined || length === null) return null;
  const number = Number(length);
  if (!Number.isFinite(number) || number < 0 || number > 0xFFFFFFFF) {
    throw new TypeError('length must be an unsigned long');
  }
  return Math.trunc(number);
}

export class SubtleCrypto {
  constructor(token) {
    if (token !== kConstruct) throw new TypeError('Illegal constructor');
  }

  encrypt(algorithm, key, data) {
    return run(() => {
      checkThis(this);
      toKey(key, 'key');
      const bytes = bufferSource(data, 'data');
      const normalized = normalizeAlgorithm('encrypt', algorithm);
      checkKey(key, normalized, 'encrypt');
      return handlerFor(normalized, 'encrypt').encrypt(normalized, key, bytes);
    });
  }

  decrypt(algorithm, key, data) {
    return run(() => {
      checkThis(this);
      toKey(key, 'key');
      const bytes = bufferSource(data, 'data');
      const normalized = normalizeAlgorithm('decrypt', algorithm);
      checkKey(key, normalized, 'decrypt');
      return handlerFor(normalized, 'decrypt').decrypt(normalized, key, bytes);
    });
  }

  sign(algorithm, key, data) {
    return run(() => {
      checkThis(this);
      toKey(key, 'key');
      const bytes = bufferSource(data, 'data');
      const normalized = normalizeAlgorithm('sign', algorithm);
      checkKey(key, normalized, 'sign');
      return handlerFor(normalized, 'sign').sign(normalized, key, bytes);
    });
  }

  verify(algorithm, key, signature, data) {
    return run(() => {
      checkThis(this);
      toKey(key, 'key');
      const signatureBytes = bufferSource(signature, 'signature');
      const bytes = bufferSource(data, 'data');
      const normalized = normalizeAlgorithm('verify', algorithm);
      checkKey(key, normalized, 'verify');
      return handlerFor(normalized, 'verify').verify(normalized, key, signatureBytes, bytes);
    });
  }

  digest(algorithm, data) {
    return run(() => {
      checkThis(this);
      const bytes = bufferSource(data, 'data');
      const normalized = normalizeAlgorithm('digest', algorithm);
      return callNative('digest', normalized.name, bytes);
    });
  }

  generateKey(algorithm, extractable, keyUsages) {
    return run(() => {
      checkThis(this);
      const usages = toUsages(keyUsages);
      const normalized = normalizeAlgorithm('generateKey', algorithm);
      const result = handlerFor(normalized, 'generateKey')
                         .generateKey(normalized, Boolean(extractable), usages);
      if (isCryptoKey(result) && slotsOf(result).usages.length === 0) {
        fail('SyntaxError', 'a secret key needs at least one usage');
      }
      return result;
    });
  }

  deriveKey(algorithm, baseKey, derivedKeyType, extractable, keyUsages) {
    return run(() => {
      checkThis(this);
      toKey(baseKey, 'baseKey');
      const usages = toUsages(keyUsages);
      const normalized = normalizeAlgorithm('deriveBits', algorithm);
      const importAlgorithm = normalizeAlgorithm('importKey', derivedKeyType);
      const lengthAlgorithm = normalizeAlgorithm('get key length', derivedKeyType);
      checkKey(baseKey, normalized, 'deriveKey');
      const length = handlerFor(lengthAlgorithm, 'getKeyLength').getKeyLength(lengthAlgorithm);
      const secret = deriveBits(normalized, baseKey, length);
      return importKey('raw', new Uint8Array(secret), importAlgorithm, Boolean(extractable),
                       usages);
    });
  }

  deriveBits(algorithm, baseKey, length) {
    return run(() => {
      checkThis(this);
      toKey(baseKey, 'baseKey');
      const bits = optionalLength(length);
      const normalized = normalizeAlgorithm('deriveBits', algorithm);
      checkKey(baseKey, normalized, 'deriveBits');
      return deriveBits(normalized, baseKey, bits);
    });
  }

  importKey(format, keyData, algorithm, extractable, keyUsages) {
    return run(() => {
      checkThis(this);
      const keyFormat = toFormat(format);
      const data = keyFormat === 'jwk' ? toJwk(keyData) : bufferSource(keyData, 'keyData');
      const usages = toUsages(keyUsages);
      const normalized = normalizeAlgorithm('importKey', algorithm);
      return importKey(keyFormat, data, normalized, Boolean(extractable), usages);
    });
  }

  exportKey(format, key) {
    return run(() => {
      checkThis(this);
      const keyFormat = toFormat(format);
      return exportKey(keyFormat, toKey(key, 'key'));
    });
  }

  wrapKey(format, key, wrappingKey, wrapAlgorithm) {
    return run(() => {
      checkThis(this);
      const keyFormat = toFormat(format);
      toKey(key, 'key');
      toKey(wrappingKey, 'wrappingKey');
      const [normalized, operation] = normalizeWrapping('wrapKey', 'encrypt', wrapAlgorithm);
      checkKey(wrappingKey, normalized, 'wrapKey');
      const exported = exportKey(keyFormat, key);
      const bytes = keyFormat === 'jwk' ? encodeUtf8(JSON.stringify(exported))
                                        : new Uint8Array(exported);
      return handlerFor(normalized, operation)[operation](normalized, wrappingKey, bytes);
    });
  }

  unwrapKey(format, wrappedKey, unwrappingKey, unwrapAlgorithm, unwrappedKeyAlgorithm,
            extractable, keyUsages) {
    return run(() => {
      checkThis(this);
      const keyFormat = toFormat(format);
      const wrapped = bufferSource(wrappedKey, 'wrappedKey');
      toKey(unwrappingKey, 'unwrappingKey');
      const usages = toUsages(keyUsages);
      const [normalized, operation] = normalizeWrapping('unwrapKey', 'decrypt', unwrapAlgorithm);
      const importAlgorithm = normalizeAlgorithm('importKey', unwrappedKeyAlgorithm);
      checkKey(unwrappingKey, normalized, 'unwrapKey');
      const bytes = new Uint8Array(handlerFor(normalized, operation)[operation](
          normalized, unwrappingKey, wrapped));
      let keyData = bytes;
      if (keyFormat === 'jwk') {
        let parsed;
        try {
          parsed = JSON.parse(decodeUtf8(bytes));
        } catch {
          fail('DataError', 'the unwrapped data is not a JSON Web Key');
        }
        keyData = toJwk(parsed);
      }
      return importKey(keyFormat, keyData, importAlgorithm, Boolean(extractable), usages);
    });
  }

  get [Symbol.toStringTag]() {
    return 'SubtleCrypto';
  }
}

// wrapKey and unwrapKey accept their own algorithms (AES-KW) and every encryption algorithm.
function normalizeWrapping(operation, fallback, algorithm) {
  try {
    return [normalizeAlgorithm(operation, algorithm), operation];
  } catch (error) {
    if (!(error instanceof DOMException) || error.name !== 'NotSupportedError') throw error;
  }
  return [normalizeAlgorithm(fallback, algorithm), fallback];
}

// WebIDL attributes and operations are enumerable.
for (const Class of [SubtleCrypto, CryptoKey]) {
  const descriptors = Object.getOwnPropertyDescriptors(Class.prototype);
  for (const [name, descriptor] of Object.entries(descriptors)) {
    if (name === 'constructor') continue;
    Object.defineProperty(Class.prototype, name, { ...descriptor, enumerable: true });
  }
}

export function makeSubtle() {
  return new SubtleCrypto(kConstruct);
}

export { CryptoKey };
