// Evaluated just before the streams ponyfill (streams.js imports it first): the ponyfill reads
// globalThis.DOMException once, when its module is evaluated, to pick the class of the
// AbortError it makes, and install() defines the globals only after every module has run.
// Defining DOMException here makes those AbortErrors instances of the global class.
import { DOMException } from './dom_exception.js';

if (typeof globalThis.DOMException !== 'function') {
  Object.defineProperty(globalThis, 'DOMException', {
    value: DOMException, writable: true, configurable: true, enumerable: false,
  });
}
