// Helpers shared by crypto.subtle's algorithm modules: DOMException construction, calls into
// native.subtle (whose errors carry the DOMException name to report), key-usage checks and
// the JWK members every key type handles alike.
import { decodeBase64url, encodeBase64url } from './base64url.js';
import { slotsOf } from './crypto_key.js';
import { DOMException } from './dom_exception.js';
import { native } from './native.js';

export function fail(name, message) {
  throw new DOMException(message, name);
}

// Calls native.subtle[name]; an Error named like a DOMException becomes that DOMException,
// TypeErrors pass through.
export function callNative(name, ...args) {
  try {
    return native.subtle[name](...args);
  } catch (error) {
    if (error instanceof TypeError || !(error instanceof Error)) throw error;
    throw new DOMException(error.message, error.name);
  }
}

export function bytesOf(arrayBuffer) {
  return new Uint8Array(arrayBuffer);
}

// getRandomValues fills at most 65536 bytes a call; HMAC keys may be longer.
export function randomBytes(length) {
  const bytes = new Uint8Array(length);
  for (let offset = 0; offset < length; offset += 65536) {
    native.getRandomValues(bytes.subarray(offset, offset + 65536));
  }
  return bytes;
}

// SyntaxError unless every usage is one of `allowed`.
export function checkUsages(usages, allowed, what) {
  for (const usage of usages) {
    if (!allowed.includes(usage)) {
      fail('SyntaxError', `${what}: the key usage "${usage}" is not allowed`);
    }
  }
}

export function intersect(usages, allowed) {
  return usages.filter((usage) => allowed.includes(usage));
}

// The checks of every JWK import: kty, use (when usages are requested), key_ops and ext.
export function checkJwk(jwk, { kty, use, usages, extractable, what }) {
  if (jwk.kty !== kty) fail('DataError', `${what}: the JWK's kty must be "${kty}"`);
  if (usages.length > 0 && jwk.use !== undefined && jwk.use !== use) {
    fail('DataError', `${what}: the JWK's use must be "${use}"`);
  }
  if (jwk.key_ops !== undefined) {
    if (new Set(jwk.key_ops).size !== jwk.key_ops.length) {
      fail('DataError', `${what}: the JWK's key_ops contains duplicates`);
    }
    for (const usage of usages) {
      if (!jwk.key_ops.includes(usage)) {
        fail('DataError', `${what}: the JWK's key_ops does not allow "${usage}"`);
      }
    }
  }
  if (jwk.ext === false && extractable) {
    fail('DataError', `${what}: the JWK is not extractable (ext is false)`);
  }
}

// The bytes of a base64url JWK member; DataError when absent (if required) or malformed.
export function jwkBytes(jwk, member, what, required = true) {
  const value = jwk[member];
  if (value === undefined) {
    if (required) fail('DataError', `${what}: the JWK lacks the "${member}" member`);
    return undefined;
  }
  const bytes = decodeBase64url(value);
  if (bytes === null) fail('DataError', `${what}: the JWK's "${member}" is not valid base64url`);
  return bytes;
}

// The members every exported JWK ends with.
export function finishJwk(jwk, key) {
  jwk.key_ops = [...slotsOf(key).usages];
  jwk.ext = slotsOf(key).extractable;
  return jwk;
}

export function encodeMembers(fields, names) {
  const out = {};
  for (const name of names) {
    if (fields[name] !== undefined) out[name] = encodeBase64url(bytesOf(fields[name]));
  }
  return out;
}

export { encodeBase64url };
