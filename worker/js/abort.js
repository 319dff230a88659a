// AbortController and AbortSignal (https://dom.spec.whatwg.org/#aborting-ongoing-activities),
// with AbortSignal.abort(), .timeout() on the runtime's timers and .any() (dependent signals).
//
// Other modules (fetch, streams) follow a signal with addAbortAlgorithm(signal, fn), which
// runs fn before the signal's abort event fires, as the spec's abort algorithms do.
import { DOMException } from './dom_exception.js';
import { defineEventHandler, Event, EventTarget, fireEvent, kAddAbortAlgorithm } from './events.js';
import { setTimeout } from './timers.js';

const kConstructing = Symbol('constructing');

let signalState;  // (signal) => its internal state; set by AbortSignal's static block

export class AbortSignal extends EventTarget {
  #s;
  static {
    signalState = (signal) => {
      if (signal == null || !(#s in signal)) {
        throw new TypeError('Illegal invocation: the receiver is not an AbortSignal');
      }
      return signal.#s;
    };
  }

  constructor(key = undefined) {
    if (key !== kConstructing) throw new TypeError('Illegal constructor');
    super();
    this.#s = {
      aborted: false,
      reason: undefined,
      algorithms: [],
      dependent: false,
      // A dependent signal (AbortSignal.any) and its sources reference each other strongly:
      // a dependent with listeners must live as long as a source can abort it. The links are
      // dropped when either side aborts.
      sources: new Set(),
      dependents: new Set(),
    };
  }

  get aborted() {
    return signalState(this).aborted;
  }
  get reason() {
    return signalState(this).reason;
  }
  throwIfAborted() {
    const s = signalState(this);
    if (s.aborted) throw s.reason;
  }

  static abort(reason = undefined) {
    const signal = new AbortSignal(kConstructing);
    const s = signalState(signal);
    s.aborted = true;
    s.reason = reason !== undefined ? reason :
                                      new DOMException('signal is aborted without reason',
                                                       'AbortError');
    return signal;
  }

  static timeout(milliseconds) {
    if (arguments.length < 1) {
      throw new TypeError('AbortSignal.timeout: 1 argument required, but only 0 present.');
    }
    const ms = enforceRange(milliseconds);
    const signal = new AbortSignal(kConstructing);
    setTimeout(() => {
      signalAbort(signal, new DOMException('signal timed out', 'TimeoutError'));
    }, ms);
    return signal;
  }

  static any(signals) {
    if (arguments.length < 1) {
      throw new TypeError('AbortSignal.any: 1 argument required, but only 0 present.');
    }
    if (signals == null || typeof signals[Symbol.iterator] !== 'function') {
      throw new TypeError('AbortSignal.any: the argument must be an iterable of AbortSignals');
    }
    const inputs = Array.from(signals);
    const states = inputs.map((signal) => {
      try {
        return signalState(signal);
      } catch {
        throw new TypeError('AbortSignal.any: every element must be an AbortSignal');
      }
    });
    const result = new AbortSignal(kConstructing);
    const r = signalState(result);
    const aborted = states.find((s) => s.aborted);
    if (aborted !== undefined) {
      r.aborted = true;
      r.reason = aborted.reason;
      return result;
    }
    r.dependent = true;
    const seen = new Set();
    const follow = (source, s) => {
      if (seen.has(source)) return;
      seen.add(source);
      r.sources.add(source);
      s.dependents.add(result);
    };
    for (let i = 0; i < inputs.length; ++i) {
      if (!states[i].dependent) {
        follow(inputs[i], states[i]);
      } else {
        for (const source of states[i].sources) follow(source, signalState(source));
      }
    }
    return result;
  }

  // The hook addEventListener's `signal` option uses (events.js).
  [kAddAbortAlgorithm](algorithm) {
    addAbortAlgorithm(this, algorithm);
  }
}
defineEventHandler(AbortSignal.prototype, 'abort');
Object.defineProperty(AbortSignal.prototype, Symbol.toStringTag, {
  value: 'AbortSignal', configurable: true,
});

// WebIDL [EnforceRange] unsigned long long.
function enforceRange(value) {
  const n = Number(value);
  if (!Number.isFinite(n)) {
    throw new TypeError(`AbortSignal.timeout: ${String(value)} is not a finite number`);
  }
  const ms = Math.trunc(n);
  if (ms < 0 || ms > Number.MAX_SAFE_INTEGER) {
    throw new TypeError(`AbortSignal.timeout: ${ms} is outside the range 0 to 2^53 - 1`);
  }
  return ms;
}

// A new signal that only the runtime can abort (with abortSignal), such as a Request's.
export function newAbortSignal() {
  return new AbortSignal(kConstructing);
}

// DOM's "signal abort", for the runtime's own signals (a default reason when undefined).
export function abortSignal(signal, reason) {
  signalAbort(signal, reason);
}

// Runs `algorithm` when `signal` aborts (never if it already has: check signal.aborted first).
export function addAbortAlgorithm(signal, algorithm) {
  const s = signalState(signal);
  if (!s.aborted) s.algorithms.push(algorithm);
}

// DOM's "signal abort": the signal, then every dependent signal not yet aborted.
function signalAbort(signal, reason) {
  const s = signalState(signal);
  if (s.aborted) return;
  s.aborted = true;
  s.reason = reason !== undefined ? reason :
                                    new DOMException('signal is aborted without reason',
                                                     'AbortError');
  const toAbort = [];
  for (const dependent of s.dependents) {
    const d = signalState(dependent);
    if (d.aborted) continue;
    d.aborted = true;
    d.reason = s.reason;
    toAbort.push(dependent);
  }
  unlink(signal, s);
  for (const dependent of toAbort) unlink(dependent, signalState(dependent));
  runAbortSteps(signal);
  for (const dependent of toAbort) runAbortSteps(dependent);
}

// An aborted signal follows nothing and is followed by nothing any more.
function unlink(signal, s) {
  for (const dependent of s.dependents) signalState(dependent).sources.delete(signal);
  for (const source of s.sources) signalState(source).dependents.delete(signal);
  s.dependents.clear();
  s.sources.clear();
}

function runAbortSteps(signal) {
  const s = signalState(signal);
  const algorithms = s.algorithms;
  s.algorithms = [];
  for (const algorithm of algorithms) algorithm();
  fireEvent(signal, new Event('abort'));
}

export class AbortController {
  #signal = new AbortSignal(kConstructing);
  get signal() {
    return this.#signal;
  }
  abort(reason = undefined) {
    signalAbort(this.#signal, reason);
  }
}
Object.defineProperty(AbortController.prototype, Symbol.toStringTag, {
  value: 'AbortController', configurable: true,
});
