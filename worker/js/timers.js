// setTimeout and friends (https://html.spec.whatwg.org/#timers). Timers run on the worker's
// libevent loop; ids are the native timer ids, and fireTimer is the host's entry point. The
// host keeps each timer's record ({ callback, args }) with the timer itself, so a timer that
// ends natively (its request ended, see docs/limits.md) leaves nothing behind here.
import { reportException } from './error_events.js';
import { native } from './native.js';

function addTimer(callback, delay, args, repeat) {
  if (typeof callback !== 'function') {
    throw new TypeError('The callback must be a function');
  }
  const ms = Math.max(0, Number(delay) || 0);
  return native.setTimer(ms, repeat, { callback, args });
}

export function clearTimer(id) {
  const n = Number(id);
  if (Number.isInteger(n) && n > 0) native.clearTimer(n);
}

export function fireTimer(id, timer) {
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
