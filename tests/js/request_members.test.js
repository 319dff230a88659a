// Request's members beyond method, URL, headers and body (https://fetch.spec.whatwg.org/#request-
// class): signal (a dependent signal of init's or the input Request's), redirect and the other
// RequestInit members with their defaults, copying from an input Request, clone(), and the
// TypeErrors for invalid values.
import { assert, assertEquals, assertThrows } from './lib/assert.js';

export function defaults() {
  const request = new Request('https://h.test/');
  assert(request.signal instanceof AbortSignal, 'signal is an AbortSignal');
  assertEquals(request.signal.aborted, false);
  assertEquals(request.signal, request.signal, 'the same signal every time');
  assertEquals(request.redirect, 'follow');
  assertEquals(request.mode, 'cors');
  assertEquals(request.credentials, 'same-origin');
  assertEquals(request.cache, 'default');
  assertEquals(request.integrity, '');
  assertEquals(request.keepalive, false);
  assertEquals(request.referrer, 'about:client');
  assertEquals(request.referrerPolicy, '');
  assertEquals(request.destination, '');
  assertEquals(request.duplex, 'half');
  assertEquals(request.isReloadNavigation, false);
  assertEquals(request.isHistoryNavigation, false);
}

export function membersAreReadOnlyPrototypeGetters() {
  for (const name of ['signal', 'redirect', 'mode', 'credentials', 'cache', 'integrity',
                      'keepalive', 'referrer', 'referrerPolicy', 'destination']) {
    const descriptor = Object.getOwnPropertyDescriptor(Request.prototype, name);
    assert(descriptor && typeof descriptor.get === 'function' && descriptor.set === undefined,
           name);
  }
  const request = new Request('https://h.test/');
  assertThrows(() => {
    'use strict';
    request.redirect = 'manual';
  }, TypeError);
  assertEquals(request.redirect, 'follow');
}

export function initValuesAreKept() {
  const request = new Request('https://h.test/', {
    redirect: 'manual', mode: 'same-origin', credentials: 'include', cache: 'no-store',
    integrity: 'sha256-abc', keepalive: true, referrer: 'https://ref.test/page',
    referrerPolicy: 'no-referrer',
  });
  assertEquals(request.redirect, 'manual');
  assertEquals(request.mode, 'same-origin');
  assertEquals(request.credentials, 'include');
  assertEquals(request.cache, 'no-store');
  assertEquals(request.integrity, 'sha256-abc');
  assertEquals(request.keepalive, true);
  assertEquals(request.referrer, 'https://ref.test/page');
  assertEquals(request.referrerPolicy, 'no-referrer');
  assertEquals(new Request('https://h.test/', { referrer: '' }).referrer, '');
  assertEquals(new Request('https://h.test/', { referrer: 'about:client' }).referrer,
               'about:client');
  assertEquals(new Request('https://h.test/', { cache: 'only-if-cached', mode: 'same-origin' })
                   .cache, 'only-if-cached');
}

export function invalidValuesAreTypeErrors() {
  const url = 'https://h.test/';
  for (const init of [{ redirect: 'sometimes' }, { mode: 'navigate' }, { mode: 'x' },
                      { credentials: 'all' }, { cache: 'forever' }, { referrerPolicy: 'nope' },
                      { referrer: '/relative' }, { cache: 'only-if-cached' }, { duplex: 'full' },
                      { priority: 'urgent' }, { window: {} }, { signal: {} },
                      { signal: 'abort' }, { mode: 'no-cors', method: 'PUT' }]) {
    assertThrows(() => new Request(url, init), TypeError, JSON.stringify(init));
  }
  try {
    new Request(url, { redirect: 'sometimes' });
  } catch (error) {
    assert(error.message.includes('redirect'), error.message);
  }
  assertThrows(() => new Request(url, { method: 'POST', keepalive: true,
                                        body: new ReadableStream() }), TypeError,
               'keepalive with a stream body');
}

export function fromAnotherRequest() {
  const controller = new AbortController();
  const original = new Request('https://h.test/', {
    redirect: 'error', credentials: 'omit', cache: 'reload', integrity: 'x', keepalive: true,
    mode: 'same-origin', signal: controller.signal, referrer: 'https://ref.test/',
  });
  const copy = new Request(original);
  assertEquals(copy.redirect, 'error');
  assertEquals(copy.credentials, 'omit');
  assertEquals(copy.cache, 'reload');
  assertEquals(copy.integrity, 'x');
  assertEquals(copy.keepalive, true);
  assertEquals(copy.mode, 'same-origin');
  assertEquals(copy.referrer, 'https://ref.test/', 'an empty init keeps the referrer');
  assert(copy.signal !== original.signal, 'a signal of its own');
  assertEquals(copy.signal.aborted, false);

  // A non-empty init resets referrer and referrerPolicy, and overrides what it names.
  const changed = new Request(original, { redirect: 'manual' });
  assertEquals(changed.redirect, 'manual');
  assertEquals(changed.credentials, 'omit');
  assertEquals(changed.mode, 'same-origin', 'mode is kept from a Request input');
  assertEquals(changed.referrer, 'about:client');

  controller.abort('stop');
  assertEquals(original.signal.aborted, true);
  assertEquals(copy.signal.aborted, true, 'follows the input Request\'s signal');
  assertEquals(copy.signal.reason, 'stop');
  assertEquals(changed.signal.aborted, true);
}

export function signalFollowsTheInitSignal() {
  const controller = new AbortController();
  const request = new Request('https://h.test/', { signal: controller.signal });
  assert(request.signal !== controller.signal, 'a dependent signal, not the init one');
  let events = 0;
  request.signal.addEventListener('abort', () => ++events);
  const reason = new Error('why');
  controller.abort(reason);
  assertEquals(request.signal.aborted, true);
  assertEquals(request.signal.reason, reason);
  assertEquals(events, 1);

  // A signal read only after the init signal aborted is aborted too.
  const late = new AbortController();
  const lateRequest = new Request('https://h.test/', { signal: late.signal });
  late.abort();
  assertEquals(lateRequest.signal.aborted, true);
  assertEquals(lateRequest.signal.reason.name, 'AbortError');

  const already = new Request('https://h.test/', { signal: AbortSignal.abort('early') });
  assertEquals(already.signal.aborted, true);
  assertEquals(already.signal.reason, 'early');
}

export function anExplicitNullSignalDropsTheInputSignal() {
  const controller = new AbortController();
  const original = new Request('https://h.test/', { signal: controller.signal });
  const detached = new Request(original, { signal: null });
  controller.abort();
  assertEquals(detached.signal.aborted, false);
}

export function cloneKeepsMembersAndFollowsTheSignal() {
  const controller = new AbortController();
  const request = new Request('https://h.test/', {
    method: 'POST', body: 'x', redirect: 'manual', cache: 'no-cache', signal: controller.signal,
  });
  const copy = request.clone();
  assertEquals(copy.redirect, 'manual');
  assertEquals(copy.cache, 'no-cache');
  assert(copy.signal !== request.signal);
  controller.abort('done');
  assertEquals(copy.signal.aborted, true);
  assertEquals(copy.signal.reason, 'done');
  // A clone of a request whose signal was already read follows that signal.
  const second = new AbortController();
  const read = new Request('https://h.test/', { signal: second.signal });
  void read.signal;
  const clone = read.clone();
  second.abort();
  assertEquals(clone.signal.aborted, true);
}

export function aBodyFromAnInputRequestNeedsAMethodThatAllowsIt() {
  const post = new Request('https://h.test/', { method: 'POST', body: 'data' });
  assertThrows(() => new Request(post, { method: 'GET' }), TypeError);
}

export async function fetchRejectsWithTheRequestSignalsReason() {
  const controller = new AbortController();
  const request = new Request('https://example.com/', { signal: controller.signal });
  controller.abort(new RangeError('mine'));
  let error = null;
  try {
    await fetch(request);
  } catch (e) {
    error = e;
  }
  assert(error instanceof RangeError, `the request's signal is honoured: ${error}`);
}

export async function fetchTakesRedirectFromTheRequest() {
  // The redirect mode is checked when the Request is made; fetch() rejects for an invalid one
  // in init and otherwise uses the request's (the network side is tests/fetch_test.cc).
  let error = null;
  try {
    await fetch(new Request('https://example.com/', { redirect: 'manual' }), { redirect: 'x' });
  } catch (e) {
    error = e;
  }
  assert(error instanceof TypeError && error.message.includes('redirect'), String(error));
}
