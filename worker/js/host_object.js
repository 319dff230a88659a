// The base class of the runtime's classes whose instances structuredClone must recognise
// (DOMException, CryptoKey). Its instances are made by native.HostObject, an API constructor
// whose objects have an internal field: V8 10.2's ValueSerializer hands exactly such objects to
// the embedder (worker/web_bindings.cc), and sees every other JavaScript object as a plain one.
// `new.target` gives the instance its subclass's prototype, so it is an ordinary instance in
// every other respect (private fields included).
import { native } from './native.js';

export class HostObject {
  constructor() {
    // Before the runtime is installed (nothing makes these objects then) a plain object does.
    if (native === null || native === undefined || typeof native.HostObject !== 'function') {
      return Object.create(new.target.prototype);
    }
    return Reflect.construct(native.HostObject, [], new.target);
  }
}
