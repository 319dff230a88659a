// ErrorEvent and PromiseRejectionEvent, and the two global events a script can use to see its
// own uncaught errors (HTML's "report an exception" and "notify about rejected promises"):
// - an exception no one caught in an event listener, a timer callback, a queueMicrotask
//   callback or reportError() dispatches `error` (an ErrorEvent) on the global scope;
// - a promise rejected with no handler by the end of a turn's microtasks dispatches
//   `unhandledrejection` (a PromiseRejectionEvent); worker/script_context.cc tracks them
//   with V8's promise reject callback and calls notifyRejection() for each.
// Either event's preventDefault() (or `return true` from onerror, `return false` from
// onunhandledrejection) suppresses the "Uncaught ..." log line the runtime writes otherwise.
import { formatArg } from './console.js';
import { defineEventHandler, fireEvent, setExceptionReporter } from './events.js';
import { lazyModule } from './lazy_module.js';
import { native } from './native.js';

// The two classes are loaded on first use (a context that never reports an error never
// deserialises them; url.js explains the mechanism).
export const errorEventClasses = lazyModule(() => require('./error_event_classes.js'));

// The script position of an error, from the first frame of its V8 stack that has one.
function positionOf(error) {
  const stack = error instanceof Error && typeof error.stack === 'string' ? error.stack : '';
  const match = /\n\s+at (?:.*? \()?(.+?):(\d+):(\d+)\)?(?:\n|$)/.exec(stack);
  return match === null ? { filename: '', lineno: 0, colno: 0 } :
                          { filename: match[1], lineno: Number(match[2]), colno: Number(match[3]) };
}

let reporting = false;

// HTML's "report an exception": an `error` event on the global scope, then, unless a listener
// cancelled it, the log line. An exception thrown by an error listener is only logged.
export function reportException(error) {
  if (!reporting) {
    reporting = true;
    try {
      const message = error instanceof Error ? `Uncaught ${error.name}: ${error.message}` :
                                               `Uncaught ${formatArg(error)}`;
      const { ErrorEvent } = errorEventClasses();
      const event = new ErrorEvent('error', { cancelable: true, message, error,
                                              ...positionOf(error) });
      if (!fireEvent(globalThis, event)) return;
    } finally {
      reporting = false;
    }
  }
  native.log(3, 'Uncaught ' + formatArg(error));
}

// reportError(e): the global function (HTML), the same path as an uncaught exception.
export function reportError(error) {
  if (arguments.length < 1) throw new TypeError('reportError: 1 argument required');
  reportException(error);
}

// Called by the host once per promise still rejected without a handler after a turn.
export function notifyRejection(promise, reason) {
  const { PromiseRejectionEvent } = errorEventClasses();
  const event = new PromiseRejectionEvent('unhandledrejection', { cancelable: true, promise,
                                                                   reason });
  if (fireEvent(globalThis, event)) native.log(3, 'Uncaught (in promise) ' + formatArg(reason));
}

// onerror is HTML's special case: called with (message, filename, lineno, colno, error) for an
// ErrorEvent, and `true` returned cancels the event.
function defineOnError() {
  let handler = null;
  let listening = false;
  const listener = (event) => {
    if (typeof handler !== 'function') return;
    // No ErrorEvent can exist before its class is loaded.
    const isErrorEvent = errorEventClasses.loaded() &&
                         event instanceof errorEventClasses().ErrorEvent;
    const result = isErrorEvent ?
      handler.call(globalThis, event.message, event.filename, event.lineno, event.colno,
                   event.error) :
      handler.call(globalThis, event);
    if (result === true) event.preventDefault();
  };
  Object.defineProperty(globalThis, 'onerror', {
    get() {
      return handler;
    },
    set(value) {
      handler = typeof value === 'function' || (typeof value === 'object' && value !== null) ?
                value : null;
      if (handler !== null && !listening) {
        listening = true;
        globalThis.addEventListener('error', listener);
      }
    },
    configurable: true, enumerable: true,
  });
}

export function installErrorEvents() {
  setExceptionReporter(reportException);
  defineOnError();
  defineEventHandler(globalThis, 'unhandledrejection');
}
