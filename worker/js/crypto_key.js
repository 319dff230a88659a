// CryptoKey (https://w3c.github.io/webcrypto/#cryptokey-interface): the opaque key handle.
// Scripts see type, extractable, algorithm and usages; the key material stays in a private
// field that only the modules of crypto.subtle read, through keyMaterial(). The material is
// raw bytes for secret keys, PKCS #8 DER for private keys and SPKI DER for public keys (see
// worker/subtle/subtle_bindings.h), and is never shared with the caller.
const kConstruct = Symbol('CryptoKey construction');
let readMaterial;
let hasBrand;

export class CryptoKey {
  #type;
  #extractable;
  #algorithm;
  #usages;
  #material;

  constructor(token, type, extractable, algorithm, usages, material) {
    if (token !== kConstruct) throw new TypeError('Illegal constructor');
    this.#type = type;
    this.#extractable = extractable;
    this.#algorithm = algorithm;
    this.#usages = usages;
    this.#material = material;
  }

  static {
    readMaterial = (key) => key.#material;
    hasBrand = (value) => typeof value === 'object' && value !== null && #type in value;
  }

  get type() {
    return brand(this).#type;
  }
  get extractable() {
    return brand(this).#extractable;
  }
  // The same object each time, as the spec's [[algorithm_cached]].
  get algorithm() {
    return brand(this).#algorithm;
  }
  get usages() {
    return brand(this).#usages;
  }
  get [Symbol.toStringTag]() {
    return 'CryptoKey';
  }
}

function brand(value) {
  if (!hasBrand(value)) throw new TypeError('Illegal invocation');
  return value;
}

export function isCryptoKey(value) {
  return hasBrand(value);
}

// The order of KeyUsage values in the spec: usages are stored deduplicated in this order.
const kUsageOrder = ['encrypt', 'decrypt', 'sign', 'verify', 'deriveKey', 'deriveBits', 'wrapKey',
                     'unwrapKey'];

export function createKey(type, extractable, algorithm, usages, material) {
  const ordered = kUsageOrder.filter((usage) => usages.includes(usage));
  return new CryptoKey(kConstruct, type, extractable, algorithm, ordered, material);
}

export function keyMaterial(key) {
  return readMaterial(key);
}
