// crypto (https://w3c.github.io/webcrypto/#crypto-interface), performance (HR-Time) and
// navigator: small namespace objects over native functions.
import { onContextInit } from './context_init.js';
import { native } from './native.js';
import { subtleModule } from './subtle_lazy.js';

// crypto.subtle is made on first access (subtle_lazy.js says why): until then it is an accessor
// pair, which the first read replaces with the data property it would otherwise have been.
export function makeCrypto() {
  const crypto = Object.create(Object.prototype, {
    getRandomValues: { value: function getRandomValues(array) {
      return native.getRandomValues(array);
    }, enumerable: true },
    randomUUID: { value: function randomUUID() {
      return native.randomUUID();
    }, enumerable: true },
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
    [Symbol.toStringTag]: { value: 'Crypto' },
  });
  return crypto;
}

export function makePerformance() {
  let timeOrigin = native.wallClockNow();
  let monotonicOrigin = native.monotonicNow();
  // The origins read above belong to the snapshot's build: each context takes its own.
  onContextInit(() => {
    timeOrigin = native.wallClockNow();
    monotonicOrigin = native.monotonicNow();
  });
  return Object.create(Object.prototype, {
    timeOrigin: { get() { return timeOrigin; }, enumerable: true },
    now: { value: function now() {
      return native.monotonicNow() - monotonicOrigin;
    }, enumerable: true },
    toJSON: { value: function toJSON() {
      return { timeOrigin };
    } },
    [Symbol.toStringTag]: { value: 'Performance' },
  });
}

export function makeNavigator() {
  return Object.create(Object.prototype, {
    userAgent: { value: 'isolated/0.1.0', enumerable: true },
    [Symbol.toStringTag]: { value: 'Navigator' },
  });
}
