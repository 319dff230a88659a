// The base class of the runtime's classes whose instances structuredClone must recognise
// (DOMException, CryptoKey). Its instances are made by native.HostObject, an API constructor
// whose objects have an internal field: V8 10.2's ValueSerializer hands exactly such objects to
// the embedder (worker/web_bindings.cc), and sees every other JavaScript object as a plain one.
// `new.target` gives the instance its subclass's prototype, so it is an ordinary instance in
// every other respect (private fields included).
//
// structuredClone's copies are made the other way round: V8 runs no JavaScript while it
// deserialises, so the native side makes a placeholder object (with the internal field) and
// asks afterwards for it to become a DOMException or a CryptoKey. adopt() runs a constructor
// that, instead of making a new object, takes the placeholder over: prototype, fields and all.
import { native } from './native.js';

let adoptee = null;

// Runs `construct` (which constructs one HostObject subclass) so that its instance is `object`.
export function adopt(object, construct) {
  adoptee = object;
  try {
    return construct();
  } finally {
    adoptee = null;
  }
}

export class HostObject {
  constructor() {
    if (adoptee !== null) {
      const object = adoptee;
      adoptee = null;
      Object.setPrototypeOf(object, new.target.prototype);
      return object;
    }
    // Before the runtime is installed (nothing makes these objects then) a plain object does.
    if (native === null || native === undefined || typeof native.HostObject !== 'function') {
      return Object.create(new.target.prototype);
    }
    return Reflect.construct(native.HostObject, [], new.target);
  }
}
