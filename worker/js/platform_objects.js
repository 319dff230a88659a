// crypto (https://w3c.github.io/webcrypto/#crypto-interface), performance (HR-Time) and
// navigator: small namespace objects over native functions.
import { native } from './native.js';
import { makeSubtle } from './subtle.js';

export function makeCrypto() {
  return Object.create(Object.prototype, {
    getRandomValues: { value: function getRandomValues(array) {
      return native.getRandomValues(array);
    }, enumerable: true },
    randomUUID: { value: function randomUUID() {
      return native.randomUUID();
    }, enumerable: true },
    subtle: { value: makeSubtle(), enumerable: true },
    [Symbol.toStringTag]: { value: 'Crypto' },
  });
}

export function makePerformance() {
  const timeOrigin = native.wallClockNow();
  const monotonicOrigin = native.monotonicNow();
  return Object.create(Object.prototype, {
    timeOrigin: { value: timeOrigin, enumerable: true },
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
