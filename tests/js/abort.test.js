// AbortController and AbortSignal (https://dom.spec.whatwg.org/#aborting-ongoing-activities):
// abort reasons, the abort event and onabort, throwIfAborted, AbortSignal.abort, .timeout
// and .any.
import { assert, assertArrayEquals, assertEquals, assertThrows } from './lib/assert.js';

export function abortWithoutReasonIsAnAbortError() {
  const controller = new AbortController();
  const signal = controller.signal;
  assertEquals(controller.signal, signal, 'the same signal each time');
  assertEquals(signal.aborted, false);
  assertEquals(signal.reason, undefined);
  signal.throwIfAborted();
  controller.abort();
  assertEquals(signal.aborted, true);
  assert(signal.reason instanceof DOMException, 'the reason is a DOMException');
  assertEquals(signal.reason.name, 'AbortError');
  assertEquals(signal.reason.code, DOMException.ABORT_ERR);
  assertThrows(() => signal.throwIfAborted(), 'AbortError');
}

export function abortWithAReason() {
  const controller = new AbortController();
  const reason = { why: 'because' };
  controller.abort(reason);
  assertEquals(controller.signal.reason, reason);
  try {
    controller.signal.throwIfAborted();
    throw new Error('no exception');
  } catch (error) {
    assertEquals(error, reason, 'throwIfAborted throws the reason itself');
  }
  controller.abort('second');
  assertEquals(controller.signal.reason, reason, 'a second abort changes nothing');
}

export function abortEventFiresOnce() {
  const controller = new AbortController();
  const calls = [];
  controller.signal.onabort = (event) => {
    calls.push(['onabort', event.type, event.isTrusted, event.target === controller.signal]);
  };
  controller.signal.addEventListener('abort', () => {
    calls.push(['listener', controller.signal.aborted]);
  });
  controller.abort();
  controller.abort();
  assertEquals(JSON.stringify(calls), '[["onabort","abort",true,true],["listener",true]]');
  assertEquals(typeof controller.signal.onabort, 'function');
  controller.signal.onabort = 'not a function';
  assertEquals(controller.signal.onabort, null, 'non-objects become null');
}

export function signalIsNotConstructible() {
  assertThrows(() => new AbortSignal(), TypeError);
  assert(new AbortController().signal instanceof EventTarget, 'a signal is an EventTarget');
  assertEquals(Object.prototype.toString.call(new AbortController().signal),
               '[object AbortSignal]');
}

export function staticAbort() {
  const signal = AbortSignal.abort();
  assertEquals(signal.aborted, true);
  assertEquals(signal.reason.name, 'AbortError');
  assertEquals(AbortSignal.abort(7).reason, 7);
}

export async function timeoutAbortsWithATimeoutError() {
  const signal = AbortSignal.timeout(5);
  assertEquals(signal.aborted, false);
  const event = await new Promise((resolve) => signal.addEventListener('abort', resolve));
  assertEquals(event.type, 'abort');
  assertEquals(signal.aborted, true);
  assert(signal.reason instanceof DOMException, 'the reason is a DOMException');
  assertEquals(signal.reason.name, 'TimeoutError');
  assertEquals(signal.reason.code, DOMException.TIMEOUT_ERR);
}

export function timeoutValidatesItsArgument() {
  assertThrows(() => AbortSignal.timeout(-1), TypeError, 'negative');
  assertThrows(() => AbortSignal.timeout(NaN), TypeError, 'NaN');
  assertThrows(() => AbortSignal.timeout(Infinity), TypeError, 'infinite');
  assertThrows(() => AbortSignal.timeout(), TypeError, 'missing');
}

export function anyFollowsTheFirstSourceToAbort() {
  const a = new AbortController();
  const b = new AbortController();
  const any = AbortSignal.any([a.signal, b.signal]);
  const order = [];
  a.signal.addEventListener('abort', () => order.push('source'));
  any.addEventListener('abort', () => order.push('dependent'));
  assertEquals(any.aborted, false);
  b.abort('from b');
  assertEquals(any.aborted, true);
  assertEquals(any.reason, 'from b');
  a.abort('from a');
  assertEquals(any.reason, 'from b', 'the first reason stays');
  assertArrayEquals(order, ['dependent', 'source'], 'the dependent fired once, with b');
}

export function anyWithAnAlreadyAbortedInput() {
  const live = new AbortController();
  const any = AbortSignal.any([live.signal, AbortSignal.abort('early'),
                               AbortSignal.abort('later')]);
  assertEquals(any.aborted, true);
  assertEquals(any.reason, 'early', 'the first aborted input in order');
  assertEquals(AbortSignal.any([]).aborted, false, 'no inputs: never aborts');
}

export function anyOfAnyFollowsTheOriginalSources() {
  const root = new AbortController();
  const inner = AbortSignal.any([root.signal]);
  const outer = AbortSignal.any([inner]);
  const fired = [];
  inner.onabort = () => fired.push('inner');
  outer.onabort = () => fired.push('outer');
  root.abort('root');
  assertEquals(outer.reason, 'root');
  assertArrayEquals(fired, ['inner', 'outer']);
  assertThrows(() => AbortSignal.any([{}]), TypeError, 'elements must be AbortSignals');
}

export async function anyWithATimeout() {
  const manual = new AbortController();
  const signal = AbortSignal.any([manual.signal, AbortSignal.timeout(1)]);
  await new Promise((resolve) => { signal.onabort = resolve; });
  assertEquals(signal.reason.name, 'TimeoutError');
  assertEquals(manual.signal.aborted, false, 'a dependent does not abort its sources');
}
