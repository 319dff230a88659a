// Event, CustomEvent and EventTarget (https://dom.spec.whatwg.org/#events), and the event
// handler attributes (`onabort`, `onmessage`) of HTML §8.1.8. There is no node tree here, so an
// event's path is its target alone: capture listeners run first, then the others, both at
// AT_TARGET, as the DOM's dispatch algorithm does for a target without parents.
//
// AbortSignal (abort.js) extends EventTarget; addEventListener's `signal` option reaches it
// through kAddAbortAlgorithm so that this module does not import abort.js (one-way dependency).
import { reportError } from './console.js';
import { DOMException } from './dom_exception.js';

// An AbortSignal's abort-algorithm hook: signal[kAddAbortAlgorithm](fn) runs fn when it aborts.
export const kAddAbortAlgorithm = Symbol('addAbortAlgorithm');

const NONE = 0;
const CAPTURING_PHASE = 1;
const AT_TARGET = 2;
const BUBBLING_PHASE = 3;

// Event.timeStamp is on performance.now()'s clock; main.js supplies that clock.
let clock = () => 0;
export function setEventClock(now) {
  clock = now;
}

let eventState;  // (event) => its internal state; set by Event's static block
let targetState;  // (target) => its listener map; set by EventTarget's static block

function isTrustedGetter() {
  return eventState(this).trusted;
}

export class Event {
  #s;
  static {
    eventState = (event) => {
      if (event == null || !(#s in event)) {
        throw new TypeError('Illegal invocation: the receiver is not an Event');
      }
      return event.#s;
    };
  }

  constructor(type, eventInitDict = undefined) {
    if (arguments.length < 1) {
      throw new TypeError('Failed to construct \'Event\': 1 argument required, but only 0 ' +
                          'present.');
    }
    const init = eventInitDict == null ? {} : eventInitDict;
    if (typeof init !== 'object' && typeof init !== 'function') {
      throw new TypeError('Failed to construct \'Event\': the event init must be an object');
    }
    this.#s = {
      type: String(type),
      bubbles: Boolean(init.bubbles),
      cancelable: Boolean(init.cancelable),
      composed: Boolean(init.composed),
      target: null,
      currentTarget: null,
      phase: NONE,
      timeStamp: clock(),
      trusted: false,
      initialized: true,
      dispatching: false,
      canceled: false,
      inPassiveListener: false,
      stopPropagation: false,
      stopImmediatePropagation: false,
    };
    // [LegacyUnforgeable]: an own, non-configurable accessor on every instance.
    Object.defineProperty(this, 'isTrusted', { get: isTrustedGetter, enumerable: true });
  }

  get type() {
    return eventState(this).type;
  }
  get target() {
    return eventState(this).target;
  }
  get srcElement() {
    return eventState(this).target;
  }
  get currentTarget() {
    return eventState(this).currentTarget;
  }
  composedPath() {
    const s = eventState(this);
    return s.currentTarget === null ? [] : [s.currentTarget];
  }
  get eventPhase() {
    return eventState(this).phase;
  }
  stopPropagation() {
    eventState(this).stopPropagation = true;
  }
  get cancelBubble() {
    return eventState(this).stopPropagation;
  }
  set cancelBubble(value) {
    if (value) eventState(this).stopPropagation = true;
  }
  stopImmediatePropagation() {
    const s = eventState(this);
    s.stopPropagation = true;
    s.stopImmediatePropagation = true;
  }
  get bubbles() {
    return eventState(this).bubbles;
  }
  get cancelable() {
    return eventState(this).cancelable;
  }
  get returnValue() {
    return !eventState(this).canceled;
  }
  set returnValue(value) {
    if (!value) cancel(eventState(this));
  }
  preventDefault() {
    cancel(eventState(this));
  }
  get defaultPrevented() {
    return eventState(this).canceled;
  }
  get composed() {
    return eventState(this).composed;
  }
  get timeStamp() {
    return eventState(this).timeStamp;
  }
  initEvent(type, bubbles = false, cancelable = false) {
    if (arguments.length < 1) {
      throw new TypeError('Failed to execute \'initEvent\': 1 argument required, but only 0 ' +
                          'present.');
    }
    const s = eventState(this);
    if (s.dispatching) return;
    Object.assign(s, {
      initialized: true, stopPropagation: false, stopImmediatePropagation: false,
      canceled: false, trusted: false, target: null,
      type: String(type), bubbles: Boolean(bubbles), cancelable: Boolean(cancelable),
    });
  }
}

function cancel(s) {
  if (s.cancelable && !s.inPassiveListener) s.canceled = true;
}

const kPhases = { NONE, CAPTURING_PHASE, AT_TARGET, BUBBLING_PHASE };
for (const [name, value] of Object.entries(kPhases)) {
  Object.defineProperty(Event, name, { value, enumerable: true });
  Object.defineProperty(Event.prototype, name, { value, enumerable: true });
}
Object.defineProperty(Event.prototype, Symbol.toStringTag, { value: 'Event', configurable: true });

export class CustomEvent extends Event {
  #detail;
  constructor(type, eventInitDict = undefined) {
    if (arguments.length < 1) {
      throw new TypeError('Failed to construct \'CustomEvent\': 1 argument required, but only 0 ' +
                          'present.');
    }
    super(type, eventInitDict);
    const detail = eventInitDict == null ? undefined : eventInitDict.detail;
    this.#detail = detail === undefined ? null : detail;
  }
  get detail() {
    return this.#detail;
  }
  initCustomEvent(type, bubbles = false, cancelable = false, detail = null) {
    if (eventState(this).dispatching) return;
    this.initEvent(type, bubbles, cancelable);
    this.#detail = detail;
  }
}
Object.defineProperty(CustomEvent.prototype, Symbol.toStringTag, {
  value: 'CustomEvent', configurable: true,
});

// The `options` argument of addEventListener/removeEventListener (DOM's "flatten").
function flattenOptions(options, forAdd) {
  if (options == null || (typeof options !== 'object' && typeof options !== 'function')) {
    return { capture: Boolean(options), once: false, passive: false, signal: null };
  }
  const capture = Boolean(options.capture);
  if (!forAdd) return { capture };
  const once = Boolean(options.once);
  const passive = Boolean(options.passive);
  const signal = options.signal;
  if (signal !== undefined &&
      (signal === null || typeof signal[kAddAbortAlgorithm] !== 'function')) {
    throw new TypeError('addEventListener: options.signal is not an AbortSignal');
  }
  return { capture, once, passive, signal: signal === undefined ? null : signal };
}

function checkCallback(callback, method) {
  if (callback !== null && callback !== undefined && typeof callback !== 'object' &&
      typeof callback !== 'function') {
    throw new TypeError(`${method}: the listener must be a function or an object with a ` +
                        'handleEvent method');
  }
}

function removeListener(map, type, listener) {
  listener.removed = true;
  const list = map.get(type);
  if (list === undefined) return;
  const i = list.indexOf(listener);
  if (i >= 0) list.splice(i, 1);
  if (list.length === 0) map.delete(type);
}

let globalListeners = null;  // the global object's listener map, made on first use

// What an exception thrown by a listener goes to: reportError's log line until
// error_events.js (which needs this module's Event) gives its `error` event dispatch.
let reportListenerException = reportError;
export function setExceptionReporter(report) {
  reportListenerException = report;
}

export class EventTarget {
  // type -> listeners [{ callback, capture, once, passive, removed }], in insertion order.
  #listeners = new Map();
  static {
    targetState = (target, method) => {
      if (target != null && typeof target === 'object' && #listeners in target) {
        return target.#listeners;
      }
      // The global object is an EventTarget too (global_events.js), but it was not made by this
      // constructor and cannot be given a private field: its listeners live in this module,
      // which every context has its own instance of, as it has its own global.
      if (target === globalThis) {
        globalListeners ??= new Map();
        return globalListeners;
      }
      throw new TypeError(`Illegal invocation: ${method} called on an object that is not an ` +
                          'EventTarget');
    };
  }

  addEventListener(type, callback, options = undefined) {
    const map = targetState(this, 'addEventListener');
    if (arguments.length < 2) {
      throw new TypeError('Failed to execute \'addEventListener\': 2 arguments required, but ' +
                          `only ${arguments.length} present.`);
    }
    checkCallback(callback, 'addEventListener');
    const { capture, once, passive, signal } = flattenOptions(options, true);
    if (signal !== null && signal.aborted) return;
    if (callback == null) return;
    const t = String(type);
    let list = map.get(t);
    if (list === undefined) {
      list = [];
      map.set(t, list);
    }
    if (list.some((l) => l.callback === callback && l.capture === capture)) return;
    const listener = { callback, capture, once, passive, removed: false };
    list.push(listener);
    if (signal !== null) {
      signal[kAddAbortAlgorithm](() => removeListener(map, t, listener));
    }
  }

  removeEventListener(type, callback, options = undefined) {
    const map = targetState(this, 'removeEventListener');
    if (arguments.length < 2) {
      throw new TypeError('Failed to execute \'removeEventListener\': 2 arguments required, but ' +
                          `only ${arguments.length} present.`);
    }
    checkCallback(callback, 'removeEventListener');
    const { capture } = flattenOptions(options, false);
    const t = String(type);
    const list = map.get(t);
    if (list === undefined) return;
    const listener = list.find((l) => l.callback === callback && l.capture === capture);
    if (listener !== undefined) removeListener(map, t, listener);
  }

  dispatchEvent(event) {
    targetState(this, 'dispatchEvent');
    const s = eventState(event);
    if (s.dispatching || !s.initialized) {
      throw new DOMException('dispatchEvent: the event is already being dispatched or was not ' +
                             'initialized', 'InvalidStateError');
    }
    s.trusted = false;
    return dispatch(this, event, s);
  }
}
Object.defineProperty(EventTarget.prototype, Symbol.toStringTag, {
  value: 'EventTarget', configurable: true,
});

// DOM's "dispatch" for a target with no parent.
function dispatch(target, event, s) {
  s.dispatching = true;
  s.target = target;
  s.currentTarget = target;
  s.phase = AT_TARGET;
  const map = targetState(target, 'dispatchEvent');
  invoke(target, map, event, s, true);
  invoke(target, map, event, s, false);
  s.phase = NONE;
  s.currentTarget = null;
  s.dispatching = false;
  s.stopPropagation = false;
  s.stopImmediatePropagation = false;
  return !s.canceled;
}

// DOM's "inner invoke" over a copy of the listener list taken before the first call, so
// listeners added during dispatch wait for the next event and removed ones are skipped.
function invoke(target, map, event, s, capturePass) {
  if (s.stopPropagation) return;
  const list = map.get(s.type);
  if (list === undefined) return;
  for (const listener of list.slice()) {
    if (listener.removed || listener.capture !== capturePass) continue;
    if (listener.once) removeListener(map, s.type, listener);
    s.inPassiveListener = listener.passive;
    try {
      const callback = listener.callback;
      if (typeof callback === 'function') {
        callback.call(target, event);
      } else {
        const handleEvent = callback.handleEvent;
        if (typeof handleEvent !== 'function') {
          throw new TypeError('the event listener object has no handleEvent method');
        }
        handleEvent.call(callback, event);
      }
    } catch (error) {
      reportListenerException(error);
    }
    s.inPassiveListener = false;
    if (s.stopImmediatePropagation) return;
  }
}

// Fires an event the runtime itself created ("fire an event"): isTrusted is true.
export function fireEvent(target, event) {
  const s = eventState(event);
  s.trusted = true;
  return dispatch(target, event, s);
}

// Defines the event handler IDL attribute `on<type>` on a prototype (HTML's event handlers):
// the first non-null value adds one listener, which keeps its place in the list when the
// handler changes; null removes it. `onSet(target)` runs after each non-null assignment
// (MessagePort's onmessage starts the port).
export function defineEventHandler(proto, type, onSet = null) {
  const handlers = new WeakMap();  // target -> { value, listener }
  Object.defineProperty(proto, `on${type}`, {
    configurable: true,
    enumerable: true,
    get() {
      targetState(this, `on${type}`);
      const h = handlers.get(this);
      return h === undefined ? null : h.value;
    },
    set(value) {
      targetState(this, `on${type}`);
      const handler = typeof value === 'function' || (typeof value === 'object' && value !== null) ?
                      value : null;
      let h = handlers.get(this);
      if (handler === null) {
        if (h !== undefined) {
          EventTarget.prototype.removeEventListener.call(this, type, h.listener);
          handlers.delete(this);
        }
        return;
      }
      if (h === undefined) {
        h = { value: handler, listener: null };
        h.listener = function (event) {
          if (typeof h.value !== 'function') return;
          if (h.value.call(this, event) === false) event.preventDefault();
        };
        handlers.set(this, h);
        EventTarget.prototype.addEventListener.call(this, type, h.listener);
      } else {
        h.value = handler;
      }
      if (onSet !== null) onSet(this);
    },
  });
}
