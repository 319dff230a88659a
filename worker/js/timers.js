// setTimeout and friends (https://html.spec.whatwg.org/#timers). Timers run on the worker's
// libevent loop; ids are the native timer ids, and fireTimer is the host's entry point.
import { reportException } from './error_events.js';
import { native } from './native.js';

const timerCallbacks = new Map();

function addTimer(callback, delay, args, repeat) {
  if (typeof callback !== 'function') {
    throw new TypeError('The callback must be a function');
  }
  const ms = Math.max(0, Number(delay) || 0);
  const id = native.setTimer(ms, repeat);
  timerCallbacks.set(id, { callback, args, repeat });
  return id;
}

export function clearTimer(id) {
  if (timerCallbacks.delete(id)) native.clearTimer(id);
}

export function fireTimer(id) {
  const timer = timerCallbacks.get(id);
  if (!timer) return;
  if (!timer.repeat) timerCallbacks.delete(id);
  try {
    timer.callback(...timer.args);
  } catch (error) {
    reportException(error);
  }
}

export const setTimeout = (cb, ms, ...args) => addTimer(cb, ms, args, false);
export const setInterval = (cb, ms, ...args) => addTimer(cb, ms, args, true);

export function queueMicrotask(cb) {
  if (typeof cb !== 'function') throw new TypeError('The callback must be a function');
  Promise.resolve().then(() => {
    try {
      cb();
    } catch (error) {
      reportException(error);
    }
  });
}
