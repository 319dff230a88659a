// ErrorEvent, PromiseRejectionEvent and the global `error` / `unhandledrejection` events with
// their onerror / onunhandledrejection attributes (worker/js/error_events.js).
import { assert, assertEquals, assertThrows } from './lib/assert.js';

// Resolves with the next `type` event on the global scope; the listener cancels it (so no log
// line), then removes itself.
function nextGlobalEvent(type) {
  return new Promise((resolve) => {
    const listener = (event) => {
      event.preventDefault();
      removeEventListener(type, listener);
      resolve(event);
    };
    addEventListener(type, listener);
  });
}

const macrotask = () => new Promise((resolve) => setTimeout(resolve, 0));

export function errorEventConstructor() {
  const error = new TypeError('x');
  const event = new ErrorEvent('error', { message: 'm', filename: 'f.js', lineno: 3, colno: 4,
                                          error, cancelable: true });
  assert(event instanceof Event, 'an Event');
  assertEquals(event.type, 'error');
  assertEquals(event.message, 'm');
  assertEquals(event.filename, 'f.js');
  assertEquals(event.lineno, 3);
  assertEquals(event.colno, 4);
  assertEquals(event.error, error);
  assertEquals(event.cancelable, true);
  const empty = new ErrorEvent('error');
  assertEquals(empty.message, '');
  assertEquals(empty.lineno, 0);
  assertEquals(empty.error, undefined);
  assertEquals(Object.prototype.toString.call(empty), '[object ErrorEvent]');
  assertThrows(() => new ErrorEvent(), TypeError);
}

export function promiseRejectionEventConstructor() {
  const promise = Promise.resolve(1);
  const event = new PromiseRejectionEvent('unhandledrejection', { promise, reason: 'why' });
  assert(event instanceof Event, 'an Event');
  assertEquals(event.promise, promise);
  assertEquals(event.reason, 'why');
  assertEquals(Object.prototype.toString.call(event), '[object PromiseRejectionEvent]');
  assertThrows(() => new PromiseRejectionEvent('x'), TypeError);
  assertThrows(() => new PromiseRejectionEvent('x', {}), TypeError, 'promise is required');
  assertThrows(() => new PromiseRejectionEvent('x', { promise: 1 }), TypeError);
}

export async function listenerExceptionDispatchesError() {
  const target = new EventTarget();
  const thrown = new RangeError('from a listener');
  target.addEventListener('ping', () => {
    throw thrown;
  });
  const next = nextGlobalEvent('error');
  target.dispatchEvent(new Event('ping'));
  const event = await next;
  assert(event instanceof ErrorEvent, 'an ErrorEvent');
  assertEquals(event.error, thrown);
  assertEquals(event.message, 'Uncaught RangeError: from a listener');
  assert(event.filename.endsWith('error_events.test.js'), event.filename);
  assert(event.lineno > 0, 'a line');
}

export async function timerExceptionDispatchesError() {
  const next = nextGlobalEvent('error');
  setTimeout(() => {
    throw new Error('from a timer');
  }, 0);
  const event = await next;
  assertEquals(event.error.message, 'from a timer');
}

export async function queueMicrotaskExceptionDispatchesError() {
  const next = nextGlobalEvent('error');
  queueMicrotask(() => {
    throw new Error('from a microtask');
  });
  assertEquals((await next).error.message, 'from a microtask');
}

export async function reportErrorDispatchesError() {
  const next = nextGlobalEvent('error');
  reportError('plain value');
  const event = await next;
  assertEquals(event.error, 'plain value');
  assertEquals(event.message, 'Uncaught plain value');
}

export async function onerrorGetsTheFiveArgumentsAndTrueCancels() {
  assertEquals(globalThis.onerror, null);
  let args = null;
  let seenAfter = null;
  const after = (event) => {
    seenAfter = event.defaultPrevented;
  };
  globalThis.onerror = (...received) => {
    args = received;
    return true;
  };
  addEventListener('error', after);
  try {
    const error = new Error('via onerror');
    reportError(error);
    assertEquals(args.length, 5);
    assertEquals(args[0], 'Uncaught Error: via onerror');
    assertEquals(args[4], error);
    assertEquals(seenAfter, true, 'returning true cancels the event');
  } finally {
    globalThis.onerror = null;
    removeEventListener('error', after);
  }
  assertEquals(globalThis.onerror, null);
}

export async function unhandledRejectionDispatchesAfterTheTurn() {
  const next = nextGlobalEvent('unhandledrejection');
  const reason = new Error('nobody caught me');
  const promise = Promise.reject(reason);
  const event = await next;
  assert(event instanceof PromiseRejectionEvent, 'a PromiseRejectionEvent');
  assertEquals(event.promise, promise);
  assertEquals(event.reason, reason);
  assertEquals(event.cancelable, true);
}

export async function rejectionHandledInTheSameTurnIsNotReported() {
  let reported = 0;
  const count = (event) => {
    reported++;
    event.preventDefault();
  };
  addEventListener('unhandledrejection', count);
  try {
    const promise = Promise.reject(new Error('caught later in the turn'));
    await null;
    await null;
    promise.catch(() => {});
    await macrotask();
    await macrotask();
    assertEquals(reported, 0);
  } finally {
    removeEventListener('unhandledrejection', count);
  }
}

export async function onunhandledrejectionAttribute() {
  assertEquals(globalThis.onunhandledrejection, null);
  let seen = null;
  globalThis.onunhandledrejection = (event) => {
    seen = event.reason;
    event.preventDefault();
  };
  try {
    Promise.reject('attr');
    await macrotask();
    assertEquals(seen, 'attr');
  } finally {
    globalThis.onunhandledrejection = null;
  }
}
