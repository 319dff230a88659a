// The global scope as an EventTarget, as a Workers global scope is: addEventListener,
// removeEventListener and dispatchEvent on globalThis, and EventTarget.prototype in its
// prototype chain. 'fetch' and 'scheduled' listeners are the script's handlers in
// service-worker syntax: they go to handlers.js exactly as before (functions only, each
// registration kept), and dispatchEvent does not reach them. Every other type is an ordinary
// event on the global object (events.js keeps its listeners).
import { EventTarget } from './events.js';
import { addHandlerListener, removeHandlerListener } from './handlers.js';

const { addEventListener: add, removeEventListener: remove, dispatchEvent: dispatch } =
  EventTarget.prototype;

// Called as plain functions (`addEventListener(...)`), so they act on globalThis whatever
// `this` is.
export function addEventListener(type, listener, options = undefined) {
  if (addHandlerListener(String(type), listener)) return;
  Reflect.apply(add, globalThis, arguments);
}

export function removeEventListener(type, listener, options = undefined) {
  if (removeHandlerListener(String(type), listener)) return;
  Reflect.apply(remove, globalThis, arguments);
}

export function dispatchEvent(event) {
  return Reflect.apply(dispatch, globalThis, arguments);
}

// Puts EventTarget.prototype just above Object.prototype in the global object's prototype chain
// (which V8 starts with the global template's own prototype object), so that
// `globalThis instanceof EventTarget` holds. Called once, before the global functions are
// defined (they shadow the prototype's methods).
export function makeGlobalEventTarget() {
  let object = globalThis;
  for (;;) {
    const proto = Object.getPrototypeOf(object);
    if (proto === EventTarget.prototype || proto === null) return;
    if (proto === Object.prototype) {
      Object.setPrototypeOf(object, EventTarget.prototype);
      return;
    }
    object = proto;
  }
}
