// The global scope as an EventTarget: addEventListener, removeEventListener and dispatchEvent on
// globalThis, which inherits from EventTarget.prototype. 'fetch' and 'scheduled' listeners are
// the script's handlers (tests/serve_test.cc covers them end to end).
import { assert, assertEquals, assertThrows } from './lib/assert.js';

export function theGlobalIsAnEventTarget() {
  assert(globalThis instanceof EventTarget, 'globalThis instanceof EventTarget');
  for (const name of ['addEventListener', 'removeEventListener', 'dispatchEvent']) {
    assertEquals(typeof globalThis[name], 'function', name);
  }
  assertEquals(self, globalThis);
}

export function dispatchReachesListeners() {
  const seen = [];
  const listener = function (event) {
    seen.push([event.type, this === globalThis, event.target === globalThis,
               event.currentTarget === globalThis]);
  };
  addEventListener('x-test', listener);
  assertEquals(dispatchEvent(new Event('x-test')), true);
  assertEquals(JSON.stringify(seen), JSON.stringify([['x-test', true, true, true]]));
  addEventListener('x-test', listener);  // a duplicate is ignored, as on any EventTarget
  globalThis.dispatchEvent(new Event('x-test'));
  assertEquals(seen.length, 2);
  removeEventListener('x-test', listener);
  dispatchEvent(new Event('x-test'));
  assertEquals(seen.length, 2, 'removed');
}

export function optionsAndCancellationWork() {
  let count = 0;
  addEventListener('x-once', () => ++count, { once: true });
  dispatchEvent(new Event('x-once'));
  dispatchEvent(new Event('x-once'));
  assertEquals(count, 1, 'once');

  const controller = new AbortController();
  let signalled = 0;
  addEventListener('x-signal', () => ++signalled, { signal: controller.signal });
  dispatchEvent(new Event('x-signal'));
  controller.abort();
  dispatchEvent(new Event('x-signal'));
  assertEquals(signalled, 1, 'removed by its signal');

  const handler = { handleEvent(event) { event.preventDefault(); } };
  addEventListener('x-cancel', handler);
  assertEquals(dispatchEvent(new Event('x-cancel', { cancelable: true })), false);
  removeEventListener('x-cancel', handler);

  const detail = [];
  addEventListener('x-custom', (event) => detail.push(event.detail));
  dispatchEvent(new CustomEvent('x-custom', { detail: 42 }));
  assertEquals(detail[0], 42);
}

export function inheritedMethodsActOnTheGlobal() {
  let heard = false;
  EventTarget.prototype.addEventListener.call(globalThis, 'x-proto', () => { heard = true; });
  dispatchEvent(new Event('x-proto'));
  assert(heard, 'EventTarget.prototype methods work on the global object');
}

export function errorsAreTheSpecs() {
  assertThrows(() => addEventListener('x'), TypeError, 'one argument');
  assertThrows(() => dispatchEvent({ type: 'x' }), TypeError, 'not an Event');
  assertThrows(() => addEventListener('x', 5), TypeError, 'not a callback');
}

export function fetchListenersAreNotOrdinaryEvents() {
  let called = false;
  const listener = () => { called = true; };
  addEventListener('fetch', listener);
  dispatchEvent(new Event('fetch'));
  assertEquals(called, false, 'a fetch handler is only called for requests');
  removeEventListener('fetch', listener);
}
