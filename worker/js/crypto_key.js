// CryptoKey (https://w3c.github.io/webcrypto/#cryptokey-interface): the opaque key handle.
// Scripts see type, extractable, algorithm and usages; the spec's internal slots stay in a
// private field that only the modules of crypto.subtle read, through slotsOf() and
// keyMaterial(). The algorithm and usages scripts see are copies ([[algorithm_cached]],
// [[usages_cached]]): mutating them changes nothing the operations check. The material is raw
// bytes for secret keys, PKCS #8 DER for private keys and SPKI DER for public keys (see
// worker/subtle/subtle_bindings.h), and is never shared with the caller.
//
// A HostObject (host_object.js), so that structuredClone can copy a key (WebCrypto: CryptoKey is
// serializable, slots and all; worker/js/structured_clone.js).
import { HostObject } from './host_object.js';

const kConstruct = Symbol('CryptoKey construction');
let readSlots;
let hasBrand;

export class CryptoKey extends HostObject {
  // Frozen {type, extractable, algorithm, usages, material}: the internal slots.
  #slots;
  #algorithm;
  #usages;

  constructor(token, slots) {
    if (token !== kConstruct) throw new TypeError('Illegal constructor');
    super();
    this.#slots = slots;
    this.#algorithm = copyAlgorithm(slots.algorithm);
    this.#usages = [...slots.usages];
  }

  static {
    readSlots = (key) => key.#slots;
    hasBrand = (value) => typeof value === 'object' && value !== null && #slots in value;
  }

  get type() {
    return brand(this).#slots.type;
  }
  get extractable() {
    return brand(this).#slots.extractable;
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

// As a WebIDL interface's prototype would be: HostObject is an implementation detail.
Object.setPrototypeOf(CryptoKey.prototype, Object.prototype);

// A deep copy of a KeyAlgorithm dictionary (its members are strings, numbers, Uint8Arrays and
// nested {name} dictionaries).
function copyAlgorithm(algorithm) {
  const copy = {};
  for (const [member, value] of Object.entries(algorithm)) {
    if (value instanceof Uint8Array) copy[member] = value.slice();
    else if (typeof value === 'object' && value !== null) copy[member] = copyAlgorithm(value);
    else copy[member] = value;
  }
  return copy;
}

function deepFreeze(algorithm) {
  for (const value of Object.values(algorithm)) {
    if (typeof value === 'object' && value !== null && !ArrayBuffer.isView(value)) {
      deepFreeze(value);
    }
  }
  return Object.freeze(algorithm);
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
  const ordered = Object.freeze(kUsageOrder.filter((usage) => usages.includes(usage)));
  return new CryptoKey(kConstruct, Object.freeze({
    type, extractable, algorithm: deepFreeze(copyAlgorithm(algorithm)), usages: ordered, material,
  }));
}

// The internal slots of a CryptoKey: what every operation must check, never the properties
// a script can see and change.
export function slotsOf(key) {
  return readSlots(key);
}

export function keyMaterial(key) {
  return readSlots(key).material;
}
