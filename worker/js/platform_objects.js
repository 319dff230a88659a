// crypto (https://w3c.github.io/webcrypto/#crypto-interface), performance (HR-Time) and
// navigator: small objects over native functions. Crypto and Performance are interfaces too
// (globals whose constructors throw, as in browsers), so `crypto instanceof Crypto` holds.
import { onContextInit } from './context_init.js';
import { DOMException } from './dom_exception.js';
import { native } from './native.js';
import { subtleModule } from './subtle_lazy.js';

function illegalConstructor() {
  throw new TypeError('Illegal constructor');
}

// %TypedArray%.prototype[@@toStringTag]: the element type's name for a typed array, undefined
// for anything else (a DataView included).
const typedArrayTag = Object.getOwnPropertyDescriptor(
  Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag).get;
const kIntegerArrays = new Set(['Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array',
                                'Uint16Array', 'Int32Array', 'Uint32Array', 'BigInt64Array',
                                'BigUint64Array']);

export class Crypto {
  constructor() {
    illegalConstructor();
  }
  getRandomValues(array) {
    // WebCrypto: any ArrayBufferView passes the argument conversion, and one that is not an
    // integer typed array (a Float32Array, a DataView) is a TypeMismatchError.
    if (ArrayBuffer.isView(array) && !kIntegerArrays.has(typedArrayTag.call(array))) {
      throw new DOMException('getRandomValues: the array must be an integer typed array',
                             'TypeMismatchError');
    }
    return native.getRandomValues(array);
  }
  randomUUID() {
    return native.randomUUID();
  }
}
Object.defineProperty(Crypto.prototype, Symbol.toStringTag, { value: 'Crypto',
                                                               configurable: true });

// crypto.subtle is made on first access (subtle_lazy.js says why): until then it is an accessor
// pair, which the first read replaces with the data property it would otherwise have been.
export function makeCrypto() {
  const crypto = Object.create(Crypto.prototype, {
    subtle: {
      get() {
        const subtle = subtleModule().makeSubtle();
        Object.defineProperty(crypto, 'subtle', {
          value: subtle, writable: false, enumerable: true, configurable: false,
        });
        return subtle;
      },
      enumerable: true, configurable: true,
    },
  });
  return crypto;
}

// The one Performance object's clock: origins read per context (see makePerformance).
let timeOrigin = 0;
let monotonicOrigin = 0;

export class Performance {
  constructor() {
    illegalConstructor();
  }
  get timeOrigin() {
    return timeOrigin;
  }
  now() {
    return native.monotonicNow() - monotonicOrigin;
  }
  toJSON() {
    return { timeOrigin };
  }
}
Object.defineProperty(Performance.prototype, Symbol.toStringTag, { value: 'Performance',
                                                                    configurable: true });

export function makePerformance() {
  timeOrigin = native.wallClockNow();
  monotonicOrigin = native.monotonicNow();
  // The origins read above belong to the snapshot's build: each context takes its own.
  onContextInit(() => {
    timeOrigin = native.wallClockNow();
    monotonicOrigin = native.monotonicNow();
  });
  return Object.create(Performance.prototype);
}

export function makeNavigator() {
  return Object.create(Object.prototype, {
    userAgent: { value: 'isolated/0.1.0', enumerable: true },
    [Symbol.toStringTag]: { value: 'Navigator' },
  });
}
