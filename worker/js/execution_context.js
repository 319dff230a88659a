// The per-request execution context: ctx.waitUntil() and ctx.passThroughOnException(), shared
// by the `ctx` argument of module handlers and the methods of FetchEvent/ScheduledEvent.
//
// waitUntil(promise) keeps work alive after the response: the host counts each pending promise
// against the request (native.waitUntilBegin/End), waits for them before a worker exits, and in
// the context/isolate isolation modes keeps the state until they settle (or a grace time
// ends). A rejection is logged with the request's id; it never affects the response.
import { formatArg } from './console.js';
import { native } from './native.js';

const kRequestId = Symbol('requestId');
const kPassThrough = Symbol('passThrough');

export function waitUntilFor(id, promise) {
  native.waitUntilBegin(id);
  Promise.resolve(promise).then(
    () => native.waitUntilEnd(id),
    (error) => {
      native.log(3, 'Uncaught (in waitUntil) ' +
                 (error instanceof Error ? (error.stack || String(error)) : formatArg(error)));
      native.waitUntilEnd(id);
    });
}

export class ExecutionContext {
  constructor(id) {
    this[kRequestId] = id;
    this[kPassThrough] = false;
  }
  waitUntil(promise) {
    if (arguments.length < 1) throw new TypeError('waitUntil: 1 argument required');
    waitUntilFor(this[kRequestId], promise);
  }
  // There is no origin to pass through to: an exception still gives 500, as `wrangler dev`
  // does without an upstream. Recorded so the call is accepted and idempotent.
  passThroughOnException() {
    this[kPassThrough] = true;
  }
  get [Symbol.toStringTag]() {
    return 'ExecutionContext';
  }
}
