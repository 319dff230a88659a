// The smaller globals: globalThis/self, performance, navigator, reportError, timers.
import { assert, assertEquals, assertThrows } from './lib/assert.js';

export function selfIsGlobalThis() {
  assertEquals(self, globalThis);
  assertEquals(globalThis.globalThis, globalThis);
  for (const name of ['TextEncoder', 'TextDecoder', 'atob', 'btoa', 'crypto', 'structuredClone',
                      'performance', 'navigator', 'reportError', 'setTimeout', 'queueMicrotask',
                      'console']) {
    assert(name in globalThis, `${name} is a global`);
    assertEquals(Object.getOwnPropertyDescriptor(globalThis, name).enumerable, false,
                 `${name} is not enumerable`);
  }
}

export async function performanceNowIsMonotonic() {
  const first = performance.now();
  assertEquals(typeof first, 'number');
  assert(first >= 0, 'now() is relative to timeOrigin');
  await new Promise((resolve) => setTimeout(resolve, 20));
  const second = performance.now();
  assert(second - first >= 15, `expected about 20 ms to pass, got ${second - first}`);
}

export function performanceTimeOrigin() {
  const origin = performance.timeOrigin;
  assertEquals(typeof origin, 'number');
  const drift = Math.abs(origin + performance.now() - Date.now());
  assert(drift < 1000, `timeOrigin + now() is wall-clock time (drift ${drift} ms)`);
  assertEquals(performance.toJSON().timeOrigin, origin);
}

export function navigatorUserAgent() {
  assertEquals(navigator.userAgent, 'isolated/0.1.0');
  assertEquals(Object.prototype.toString.call(navigator), '[object Navigator]');
}

export function reportErrorLogsAndReturns() {
  assertEquals(reportError(new Error('reported on purpose by globals.test.js')), undefined);
  assertEquals(reportError('a string'), undefined);
  assertThrows(() => reportError(), TypeError);
}

export async function timersRunInOrder() {
  const order = [];
  await new Promise((resolve) => {
    setTimeout(() => order.push('b'), 20);
    setTimeout(() => order.push('a'), 5);
    const cancelled = setTimeout(() => order.push('cancelled'), 10);
    clearTimeout(cancelled);
    setTimeout(resolve, 40);
  });
  assertEquals(order.join(), 'a,b');
}

export async function intervalsRepeatUntilCleared() {
  let ticks = 0;
  await new Promise((resolve) => {
    const id = setInterval(() => {
      if (++ticks === 3) {
        clearInterval(id);
        resolve();
      }
    }, 2);
  });
  assertEquals(ticks, 3);
}

export async function queueMicrotaskRunsBeforeTimers() {
  const order = [];
  await new Promise((resolve) => {
    setTimeout(() => {
      order.push('timer');
      resolve();
    }, 0);
    queueMicrotask(() => order.push('microtask'));
  });
  assertEquals(order.join(), 'microtask,timer');
}
