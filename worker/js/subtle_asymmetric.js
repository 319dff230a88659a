// crypto.subtle's public-key algorithms: RSASSA-PKCS1-v1_5, RSA-PSS, RSA-OAEP, ECDSA, ECDH,
// Ed25519 and X25519. native.subtle parses, checks and re-encodes every imported key; a
// CryptoKey's material is then {kind, curve, der, fields}: its DER (PKCS #8 for private keys,
// SPKI for public ones, for those exports) and its JWK members as bytes (for the other
// exports, and for every operation, which rebuilds the key from them).
import { createKey, keyMaterial, slotsOf } from './crypto_key.js';
import {
  bytesOf, callNative, checkJwk, checkUsages, encodeMembers, fail, finishJwk, intersect,
  jwkBytes,
} from './subtle_common.js';

// Usages allowed on the public and on the private key of each algorithm.
const kSigning = { public: ['verify'], private: ['sign'] };
const kEncrypting = { public: ['encrypt', 'wrapKey'], private: ['decrypt', 'unwrapKey'] };
const kAgreeing = { public: [], private: ['deriveKey', 'deriveBits'] };

const kCurves = ['P-256', 'P-384', 'P-521'];
const kRsaPrivateMembers = ['d', 'p', 'q', 'dp', 'dq', 'qi'];

// The parts common to every key-pair algorithm: generation, import in spki, pkcs8 and jwk
// (plus raw where `raw` is set), export, and the key-type checks of the operations. `kind`
// describes how the key type differs: kind.native (the native key kind), kind.algorithm(info,
// normalized) (the CryptoKey algorithm), kind.check(info, normalized) (DataError when an
// imported key does not fit), kind.jwk (kty, use, the JWK checks and export members).
function keyPairHandler(name, usages, kind) {
  const allowed = [...usages.public, ...usages.private];

  function makeKey(type, extractable, info, algorithm, requested) {
    const fields = {};
    for (const [member, bytes] of Object.entries(info.fields)) {
      fields[member] = new Uint8Array(bytes);
    }
    const material = Object.freeze({ kind: info.kind, curve: info.curve,
                                     der: new Uint8Array(info.der),
                                     fields: Object.freeze(fields) });
    return createKey(type, extractable, kind.algorithm(info, algorithm), requested, material);
  }

  function imported(info, algorithm, isPrivate, extractable, requested) {
    if (info.kind !== kind.native) {
      fail('DataError', `${name}: the key data holds a ${info.kind || 'unsupported'} key`);
    }
    kind.check?.(info, algorithm);
    return makeKey(isPrivate ? 'private' : 'public', extractable, info, algorithm, requested);
  }

  return {
    generateKey(algorithm, extractable, requested) {
      checkUsages(requested, allowed, name);
      const [privateInfo, publicInfo] = kind.generate(algorithm);
      const publicKey = makeKey('public', true, publicInfo, algorithm,
                                intersect(requested, usages.public));
      const privateKey = makeKey('private', extractable, privateInfo, algorithm,
                                 intersect(requested, usages.private));
      if (slotsOf(privateKey).usages.length === 0) {
        fail('SyntaxError', `${name}: the private key would have no usages`);
      }
      return { publicKey, privateKey };
    },

    importKey(format, keyData, algorithm, extractable, requested) {
      kind.checkImport?.(algorithm);
      switch (format) {
        case 'spki':
          checkUsages(requested, usages.public, `${name} public key`);
          return imported(callNative('importDer', false, keyData), algorithm, false, extractable,
                          requested);
        case 'pkcs8':
          checkUsages(requested, usages.private, `${name} private key`);
          return imported(callNative('importDer', true, keyData), algorithm, true, extractable,
                          requested);
        case 'raw':
          if (!kind.raw) break;
          checkUsages(requested, usages.public, `${name} public key`);
          return imported(callNative('importRaw', kind.native, algorithm.namedCurve ?? '',
                                     keyData), algorithm, false, extractable, requested);
        case 'jwk': {
          const isPrivate = keyData.d !== undefined;
          checkUsages(requested, isPrivate ? usages.private : usages.public,
                      `${name} ${isPrivate ? 'private' : 'public'} key`);
          checkJwk(keyData, { kty: kind.jwk.kty, use: kind.jwk.use, usages: requested,
                              extractable, what: name });
          kind.jwk.check(keyData, algorithm);
          const members = {};
          for (const member of kind.jwk.members) {
            // Public members are required; of the private ones, "d" decides the key type and
            // native.subtle reports the missing RSA CRT members.
            const privateMember = kRsaPrivateMembers.includes(member);
            if (privateMember && !isPrivate) continue;
            const bytes = jwkBytes(keyData, member, name, !privateMember || member === 'd');
            if (bytes !== undefined) members[member] = bytes;
          }
          if (keyData.oth !== undefined) {
            fail('NotSupportedError', `${name}: RSA keys with more than two primes`);
          }
          return imported(callNative('importJwk', kind.native, algorithm.namedCurve ?? '',
                                     isPrivate, members), algorithm, isPrivate, extractable,
                          requested);
        }
        default:
          break;
      }
      return fail('NotSupportedError', `${name}: keys cannot be imported in the ${format} format`);
    },

    exportKey(format, key) {
      const { der, fields } = keyMaterial(key);
      const isPrivate = slotsOf(key).type === 'private';
      switch (format) {
        case 'spki':
          if (isPrivate) fail('InvalidAccessError', `${name}: spki export needs a public key`);
          return der.slice().buffer;
        case 'pkcs8':
          if (!isPrivate) fail('InvalidAccessError', `${name}: pkcs8 export needs a private key`);
          return der.slice().buffer;
        case 'raw':
          if (!kind.raw) break;
          if (isPrivate) fail('InvalidAccessError', `${name}: raw export needs a public key`);
          return kind.rawPublicKey(fields);
        case 'jwk': {
          const jwk = { kty: kind.jwk.kty, ...kind.jwk.exportExtra(key),
                        ...encodeMembers(fields, kind.jwk.members) };
          return finishJwk(jwk, key);
        }
        default:
          break;
      }
      return fail('NotSupportedError', `${name}: keys cannot be exported in the ${format} format`);
    },
  };
}

function requireType(key, type, name, operation) {
  if (slotsOf(key).type !== type) {
    fail('InvalidAccessError', `${name}: ${operation} needs a ${type} key`);
  }
}

// ---- RSA ----------------------------------------------------------------------------------

function rsaKind(name, jwkAlgs, use) {
  return {
    native: 'RSA',
    generate(algorithm) {
      return callNative('generateKeyPair', 'RSA', '', algorithm.modulusLength,
                        algorithm.publicExponent);
    },
    algorithm(info, algorithm) {
      return { name, modulusLength: info.modulusLength,
               publicExponent: new Uint8Array(info.publicExponent),
               hash: { name: algorithm.hash.name } };
    },
    jwk: {
      kty: 'RSA',
      use,
      members: ['n', 'e', ...kRsaPrivateMembers],
      check(jwk, algorithm) {
        const expected = jwkAlgs[algorithm.hash.name];
        if (jwk.alg !== undefined && jwk.alg !== expected) {
          fail('DataError', `${name}: the JWK's alg must be "${expected}"`);
        }
      },
      exportExtra(key) {
        return { alg: jwkAlgs[slotsOf(key).algorithm.hash.name] };
      },
    },
  };
}

function rsaSignatureHandler(name, algPrefix, saltLength) {
  const jwkAlgs = { 'SHA-1': `${algPrefix}1`, 'SHA-256': `${algPrefix}256`,
                    'SHA-384': `${algPrefix}384`, 'SHA-512': `${algPrefix}512` };
  return {
    ...keyPairHandler(name, kSigning, rsaKind(name, jwkAlgs, 'sig')),
    sign(algorithm, key, data) {
      requireType(key, 'private', name, 'signing');
      return callNative('sign', name, slotsOf(key).algorithm.hash.name, saltLength(algorithm),
                        keyMaterial(key), data);
    },
    verify(algorithm, key, signature, data) {
      requireType(key, 'public', name, 'verification');
      return callNative('verify', name, slotsOf(key).algorithm.hash.name, saltLength(algorithm),
                        keyMaterial(key), signature, data);
    },
  };
}

const rsassa = rsaSignatureHandler('RSASSA-PKCS1-v1_5', 'RS', () => 0);
const rsaPss = rsaSignatureHandler('RSA-PSS', 'PS', (algorithm) => algorithm.saltLength);

const rsaOaep = {
  ...keyPairHandler('RSA-OAEP', kEncrypting, rsaKind('RSA-OAEP', {
    'SHA-1': 'RSA-OAEP', 'SHA-256': 'RSA-OAEP-256', 'SHA-384': 'RSA-OAEP-384',
    'SHA-512': 'RSA-OAEP-512',
  }, 'enc')),
  encrypt(algorithm, key, data) {
    requireType(key, 'public', 'RSA-OAEP', 'encryption');
    return callNative('rsaOaep', true, slotsOf(key).algorithm.hash.name, keyMaterial(key),
                      algorithm.label ?? new Uint8Array(0), data);
  },
  decrypt(algorithm, key, data) {
    requireType(key, 'private', 'RSA-OAEP', 'decryption');
    return callNative('rsaOaep', false, slotsOf(key).algorithm.hash.name, keyMaterial(key),
                      algorithm.label ?? new Uint8Array(0), data);
  },
};

// ---- EC -----------------------------------------------------------------------------------

function ecKind(name, use, jwkAlgs) {
  return {
    native: 'EC',
    raw: true,
    rawPublicKey(fields) {
      const point = new Uint8Array(1 + fields.x.length + fields.y.length);
      point[0] = 4;
      point.set(fields.x, 1);
      point.set(fields.y, 1 + fields.x.length);
      return point.buffer;
    },
    checkImport(algorithm) {
      if (!kCurves.includes(algorithm.namedCurve)) {
        fail('NotSupportedError', `${name}: unsupported named curve ${algorithm.namedCurve}`);
      }
    },
    generate(algorithm) {
      this.checkImport(algorithm);
      return callNative('generateKeyPair', 'EC', algorithm.namedCurve, 0, new Uint8Array(0));
    },
    check(info, algorithm) {
      if (info.curve !== algorithm.namedCurve) {
        fail('DataError', `${name}: the key is on ${info.curve || 'another curve'}, ` +
                          `not ${algorithm.namedCurve}`);
      }
    },
    algorithm(info, algorithm) {
      return { name, namedCurve: algorithm.namedCurve };
    },
    jwk: {
      kty: 'EC',
      use,
      members: ['x', 'y', 'd'],
      check(jwk, algorithm) {
        if (jwk.crv !== algorithm.namedCurve) {
          fail('DataError', `${name}: the JWK's crv must be "${algorithm.namedCurve}"`);
        }
        const expected = jwkAlgs?.[algorithm.namedCurve];
        if (jwkAlgs && jwk.alg !== undefined && jwk.alg !== expected) {
          fail('DataError', `${name}: the JWK's alg must be "${expected}"`);
        }
      },
      exportExtra(key) {
        return { crv: slotsOf(key).algorithm.namedCurve };
      },
    },
  };
}

const ecdsa = {
  ...keyPairHandler('ECDSA', kSigning,
                    ecKind('ECDSA', 'sig',
                           { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' })),
  sign(algorithm, key, data) {
    requireType(key, 'private', 'ECDSA', 'signing');
    return callNative('sign', 'ECDSA', algorithm.hash.name, 0, keyMaterial(key), data);
  },
  verify(algorithm, key, signature, data) {
    requireType(key, 'public', 'ECDSA', 'verification');
    return callNative('verify', 'ECDSA', algorithm.hash.name, 0, keyMaterial(key), signature,
                      data);
  },
};

// ECDH and X25519 deriveBits: the shared secret, truncated to `length` bits when given.
function agreement(name) {
  return (algorithm, key, length) => {
    requireType(key, 'private', name, 'deriveBits');
    const peer = algorithm.public;
    const peerSlots = slotsOf(peer);
    if (peerSlots.type !== 'public') {
      fail('InvalidAccessError', `${name}: the public member must be a public key`);
    }
    if (peerSlots.algorithm.name !== name) {
      fail('InvalidAccessError', `${name}: the public key is a ${peerSlots.algorithm.name} key`);
    }
    if (peerSlots.algorithm.namedCurve !== slotsOf(key).algorithm.namedCurve) {
      fail('InvalidAccessError', `${name}: the public key is on another curve`);
    }
    const secret = bytesOf(callNative('deriveSharedSecret', keyMaterial(key), keyMaterial(peer)));
    if (length === null) return secret.buffer;
    if (length > secret.length * 8) {
      fail('OperationError', `${name}: the shared secret has only ${secret.length * 8} bits`);
    }
    const out = secret.slice(0, Math.ceil(length / 8));
    if (length % 8) out[out.length - 1] &= 0xFF << (8 - length % 8);
    return out.buffer;
  };
}

const ecdh = {
  ...keyPairHandler('ECDH', kAgreeing, ecKind('ECDH', 'enc', null)),
  deriveBits: agreement('ECDH'),
};

// ---- Ed25519 and X25519 -------------------------------------------------------------------

function okpKind(name, use) {
  return {
    native: name,
    raw: true,
    rawPublicKey(fields) {
      return fields.x.slice().buffer;
    },
    generate() {
      return callNative('generateKeyPair', name, '', 0, new Uint8Array(0));
    },
    algorithm() {
      return { name };
    },
    jwk: {
      kty: 'OKP',
      use,
      members: ['x', 'd'],
      check(jwk) {
        if (jwk.crv !== name) fail('DataError', `${name}: the JWK's crv must be "${name}"`);
        if (name === 'Ed25519' && jwk.alg !== undefined && jwk.alg !== 'Ed25519' &&
            jwk.alg !== 'EdDSA') {
          fail('DataError', `${name}: the JWK's alg must be "Ed25519" or "EdDSA"`);
        }
      },
      // The spec sets alg for Ed25519 (w3c/webcrypto#401); X25519 has no JOSE alg.
      exportExtra() {
        return name === 'Ed25519' ? { alg: 'Ed25519', crv: name } : { crv: name };
      },
    },
  };
}

const ed25519 = {
  ...keyPairHandler('Ed25519', kSigning, okpKind('Ed25519', 'sig')),
  sign(algorithm, key, data) {
    requireType(key, 'private', 'Ed25519', 'signing');
    return callNative('sign', 'Ed25519', '', 0, keyMaterial(key), data);
  },
  verify(algorithm, key, signature, data) {
    requireType(key, 'public', 'Ed25519', 'verification');
    return callNative('verify', 'Ed25519', '', 0, keyMaterial(key), signature, data);
  },
};

const x25519 = {
  ...keyPairHandler('X25519', kAgreeing, okpKind('X25519', 'enc')),
  deriveBits: agreement('X25519'),
};

export const asymmetricHandlers = {
  'RSASSA-PKCS1-v1_5': rsassa, 'RSA-PSS': rsaPss, 'RSA-OAEP': rsaOaep, ECDSA: ecdsa, ECDH: ecdh,
  Ed25519: ed25519, X25519: x25519,
};
