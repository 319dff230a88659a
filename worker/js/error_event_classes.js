// ErrorEvent and PromiseRejectionEvent (HTML), the events of error_events.js. Loaded on first
// use: by the ErrorEvent / PromiseRejectionEvent globals, or by the first error reported.
import { Event } from './events.js';

export class ErrorEvent extends Event {
  #message;
  #filename;
  #lineno;
  #colno;
  #error;
  constructor(type, eventInitDict = undefined) {
    if (arguments.length < 1) {
      throw new TypeError('Failed to construct \'ErrorEvent\': 1 argument required, but only 0 ' +
                          'present.');
    }
    super(type, eventInitDict);
    const init = eventInitDict == null ? {} : eventInitDict;
    this.#message = init.message === undefined ? '' : String(init.message);
    this.#filename = init.filename === undefined ? '' : String(init.filename);
    this.#lineno = init.lineno === undefined ? 0 : Number(init.lineno) >>> 0;
    this.#colno = init.colno === undefined ? 0 : Number(init.colno) >>> 0;
    this.#error = init.error;
  }
  get message() {
    return this.#message;
  }
  get filename() {
    return this.#filename;
  }
  get lineno() {
    return this.#lineno;
  }
  get colno() {
    return this.#colno;
  }
  get error() {
    return this.#error;
  }
}
Object.defineProperty(ErrorEvent.prototype, Symbol.toStringTag, {
  value: 'ErrorEvent', configurable: true,
});

export class PromiseRejectionEvent extends Event {
  #promise;
  #reason;
  constructor(type, eventInitDict) {
    if (arguments.length < 2) {
      throw new TypeError('Failed to construct \'PromiseRejectionEvent\': 2 arguments required, ' +
                          `but only ${arguments.length} present.`);
    }
    if (eventInitDict == null || typeof eventInitDict !== 'object' ||
        !('promise' in eventInitDict)) {
      throw new TypeError('Failed to construct \'PromiseRejectionEvent\': required member ' +
                          'promise is undefined.');
    }
    const promise = eventInitDict.promise;
    if (promise === null || (typeof promise !== 'object' && typeof promise !== 'function')) {
      throw new TypeError('Failed to construct \'PromiseRejectionEvent\': member promise is ' +
                          'not an object.');
    }
    super(type, eventInitDict);
    this.#promise = promise;
    this.#reason = eventInitDict.reason;
  }
  get promise() {
    return this.#promise;
  }
  get reason() {
    return this.#reason;
  }
}
Object.defineProperty(PromiseRejectionEvent.prototype, Symbol.toStringTag, {
  value: 'PromiseRejectionEvent', configurable: true,
});
