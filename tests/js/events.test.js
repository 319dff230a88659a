// Event, CustomEvent and EventTarget (https://dom.spec.whatwg.org/#events): listener options
// (capture, once, passive, signal), handleEvent objects, dispatch order, propagation flags,
// cancellation and the attributes of an Event before, during and after dispatch.
import { assert, assertArrayEquals, assertEquals, assertThrows } from './lib/assert.js';

export function eventDefaults() {
  const event = new Event('ping');
  assertEquals(event.type, 'ping');
  assertEquals(event.bubbles, false);
  assertEquals(event.cancelable, false);
  assertEquals(event.composed, false);
  assertEquals(event.isTrusted, false);
  assertEquals(event.defaultPrevented, false);
  assertEquals(event.eventPhase, Event.NONE);
  assertEquals(event.target, null);
  assertEquals(event.currentTarget, null);
  assertArrayEquals(event.composedPath(), []);
  assertEquals(typeof event.timeStamp, 'number');
  assert(event.timeStamp <= performance.now() && event.timeStamp >= 0,
         'timeStamp is on performance.now()\'s clock');
  const init = new Event('x', { bubbles: 1, cancelable: 'yes', composed: true });
  assertEquals(init.bubbles && init.cancelable && init.composed, true, 'init is converted');
  assertThrows(() => new Event(), TypeError, 'type is required');
  assertEquals(Event.AT_TARGET, 2);
  assertEquals(event.BUBBLING_PHASE, 3);
  assertEquals(Object.getOwnPropertyDescriptor(event, 'isTrusted').configurable, false,
               'isTrusted is unforgeable');
}

export function listenersRunInOrderWithTheirThis() {
  const target = new EventTarget();
  const calls = [];
  const event = new Event('go');
  function first(e) {
    calls.push('first');
    assertEquals(this, target);
    assertEquals(e, event);
    assertEquals(e.target, target);
    assertEquals(e.currentTarget, target);
    assertEquals(e.eventPhase, Event.AT_TARGET);
    assertArrayEquals(e.composedPath(), [target]);
  }
  target.addEventListener('go', first);
  target.addEventListener('go', () => calls.push('second'));
  target.addEventListener('go', first, false);  // duplicate: ignored
  target.addEventListener('other', () => calls.push('other'));
  assertEquals(target.dispatchEvent(event), true);
  assertArrayEquals(calls, ['first', 'second']);
  assertEquals(event.currentTarget, null, 'currentTarget is reset');
  assertEquals(event.target, target, 'target stays');
  assertEquals(event.eventPhase, Event.NONE);
}

export function captureListenersRunFirst() {
  const target = new EventTarget();
  const calls = [];
  const log = (name) => () => calls.push(name);
  const shared = log('shared');
  target.addEventListener('x', log('bubble-1'));
  target.addEventListener('x', log('capture-1'), true);
  target.addEventListener('x', shared);
  target.addEventListener('x', shared, { capture: true });  // a distinct registration
  target.addEventListener('x', log('capture-2'), { capture: true });
  target.dispatchEvent(new Event('x'));
  assertArrayEquals(calls, ['capture-1', 'shared', 'capture-2', 'bubble-1', 'shared']);
  calls.length = 0;
  target.removeEventListener('x', shared, true);
  target.dispatchEvent(new Event('x'));
  assertArrayEquals(calls, ['capture-1', 'capture-2', 'bubble-1', 'shared'],
                    'remove matches capture');
}

export function handleEventObjects() {
  const target = new EventTarget();
  const listener = {
    calls: 0,
    handleEvent(event) {
      assertEquals(this, listener, 'this is the listener object');
      this.calls += event.type.length;
    },
  };
  target.addEventListener('four', listener);
  target.dispatchEvent(new Event('four'));
  listener.handleEvent = function (event) {
    this.calls += 100;
  };
  target.dispatchEvent(new Event('four'));
  assertEquals(listener.calls, 104, 'handleEvent is looked up at each call');
}

export function onceRemovesBeforeCalling() {
  const target = new EventTarget();
  let count = 0;
  target.addEventListener('x', () => {
    ++count;
    target.dispatchEvent(new Event('x'));  // a nested dispatch does not see the listener
  }, { once: true });
  target.dispatchEvent(new Event('x'));
  target.dispatchEvent(new Event('x'));
  assertEquals(count, 1);
}

export function listChangesDuringDispatch() {
  const target = new EventTarget();
  const calls = [];
  const late = () => calls.push('late');
  const removed = () => calls.push('removed');
  target.addEventListener('x', () => {
    calls.push('first');
    target.addEventListener('x', late);
    target.removeEventListener('x', removed);
  });
  target.addEventListener('x', removed);
  target.dispatchEvent(new Event('x'));
  assertArrayEquals(calls, ['first'], 'added listeners wait; removed ones are skipped');
  target.dispatchEvent(new Event('x'));
  assertArrayEquals(calls, ['first', 'first', 'late']);
}

export function stopImmediatePropagation() {
  const target = new EventTarget();
  const calls = [];
  target.addEventListener('x', (e) => {
    calls.push(1);
    e.stopImmediatePropagation();
  });
  target.addEventListener('x', () => calls.push(2));
  const event = new Event('x');
  target.dispatchEvent(event);
  assertArrayEquals(calls, [1]);
  assertEquals(event.cancelBubble, false, 'the flags are cleared after dispatch');
  target.dispatchEvent(event);
  assertArrayEquals(calls, [1, 1], 'the event can be dispatched again');
}

export function stopPropagationInCaptureSkipsBubbleListeners() {
  const target = new EventTarget();
  const calls = [];
  target.addEventListener('x', (e) => {
    calls.push('capture-1');
    e.stopPropagation();
  }, true);
  target.addEventListener('x', () => calls.push('capture-2'), true);
  target.addEventListener('x', () => calls.push('bubble'));
  target.dispatchEvent(new Event('x'));
  assertArrayEquals(calls, ['capture-1', 'capture-2'],
                    'listeners of the current pass still run, the next pass does not');
}

export function preventDefault() {
  const target = new EventTarget();
  target.addEventListener('x', (e) => e.preventDefault());
  const cancelable = new Event('x', { cancelable: true });
  assertEquals(target.dispatchEvent(cancelable), false, 'dispatchEvent returns false');
  assertEquals(cancelable.defaultPrevented, true);
  assertEquals(cancelable.returnValue, false);
  const plain = new Event('x');
  assertEquals(target.dispatchEvent(plain), true, 'a non-cancelable event is not canceled');
  assertEquals(plain.defaultPrevented, false);
  const legacy = new Event('y', { cancelable: true });
  legacy.returnValue = false;
  assertEquals(legacy.defaultPrevented, true, 'returnValue = false cancels');
}

export function passiveListenersCannotCancel() {
  const target = new EventTarget();
  let seen;
  target.addEventListener('x', (e) => {
    e.preventDefault();
    seen = e.defaultPrevented;
  }, { passive: true });
  const event = new Event('x', { cancelable: true });
  assertEquals(target.dispatchEvent(event), true);
  assertEquals(seen, false);
  target.addEventListener('x', (e) => e.preventDefault());
  assertEquals(target.dispatchEvent(new Event('x', { cancelable: true })), false,
               'a later non-passive listener can');
}

export function signalRemovesTheListener() {
  const target = new EventTarget();
  const controller = new AbortController();
  let count = 0;
  target.addEventListener('x', () => ++count, { signal: controller.signal });
  target.dispatchEvent(new Event('x'));
  controller.abort();
  target.dispatchEvent(new Event('x'));
  assertEquals(count, 1);
  target.addEventListener('x', () => ++count, { signal: controller.signal });
  target.dispatchEvent(new Event('x'));
  assertEquals(count, 1, 'an already-aborted signal adds nothing');
  assertThrows(() => target.addEventListener('x', () => {}, { signal: {} }), TypeError,
               'signal must be an AbortSignal');
  assertThrows(() => target.addEventListener('x', () => {}, { signal: null }), TypeError,
               'null is not an AbortSignal either');
}

export function throwingListenersAreReportedAndDispatchContinues() {
  const target = new EventTarget();
  let after = false;
  target.addEventListener('x', () => {
    throw new Error('listener failure (expected in this test\'s output)');
  });
  target.addEventListener('x', { handleEvent: 42 });
  target.addEventListener('x', () => { after = true; });
  assertEquals(target.dispatchEvent(new Event('x')), true);
  assertEquals(after, true);
}

export function invalidCalls() {
  const target = new EventTarget();
  assertThrows(() => target.dispatchEvent({ type: 'x' }), TypeError, 'a non-Event');
  assertThrows(() => target.addEventListener('x', 'str'), TypeError, 'a string listener');
  assertThrows(() => target.addEventListener('x'), TypeError, 'two arguments are required');
  target.addEventListener('x', null);  // ignored
  assertThrows(() => EventTarget.prototype.addEventListener.call({}, 'x', () => {}), TypeError,
               'a non-EventTarget receiver');
  const event = new Event('x');
  target.addEventListener('x', () => {
    assertThrows(() => target.dispatchEvent(event), 'InvalidStateError', 'a re-dispatch');
  });
  target.dispatchEvent(event);
}

export function customEventDetail() {
  const target = new EventTarget();
  let detail;
  target.addEventListener('data', (e) => { detail = e.detail; });
  const payload = { n: 1 };
  const event = new CustomEvent('data', { detail: payload });
  target.dispatchEvent(event);
  assertEquals(detail, payload, 'detail is the same object');
  assert(event instanceof Event, 'a CustomEvent is an Event');
  assertEquals(new CustomEvent('x').detail, null);
  assertEquals(Object.prototype.toString.call(event), '[object CustomEvent]');
}

export function subclassesOfEventTarget() {
  class Counter extends EventTarget {
    increment() {
      this.dispatchEvent(new CustomEvent('change', { detail: 1 }));
    }
  }
  const counter = new Counter();
  let total = 0;
  counter.addEventListener('change', (e) => { total += e.detail; });
  counter.increment();
  counter.increment();
  assertEquals(total, 2);
}

export function globalsAreNonEnumerableClasses() {
  for (const name of ['Event', 'EventTarget', 'CustomEvent', 'AbortController', 'AbortSignal',
                      'DOMException', 'MessageChannel', 'MessagePort', 'MessageEvent']) {
    // The message channel classes are loaded on first access (worker/js/main.js): an accessor
    // pair until then, the data property checked here after.
    assertEquals(typeof globalThis[name], 'function', name);
    const desc = Object.getOwnPropertyDescriptor(globalThis, name);
    assertEquals(typeof desc.value, 'function', name);
    assertEquals(desc.enumerable, false, `${name} is not enumerable`);
    assertEquals(desc.writable && desc.configurable, true, `${name} can be replaced`);
    assertEquals(desc.value.name, name);
  }
}
