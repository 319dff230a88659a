// fetch()'s argument handling, which happens in the runtime before any request leaves the
// worker: every refusal is a rejected promise (never a synchronous throw) with the spec's
// error type. `isolated test` has no supervisor, so a well-formed fetch() rejects with a
// TypeError saying it is not available; the network side is covered by tests/fetch_test.cc.
import { assert, assertEquals } from './lib/assert.js';

async function rejection(promiseFn) {
  let promise;
  try {
    promise = promiseFn();
  } catch (error) {
    throw new Error(`fetch() threw synchronously: ${error}`);
  }
  assert(promise instanceof Promise, 'fetch() returns a promise');
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

export async function noArgumentsIsATypeError() {
  const error = await rejection(() => fetch());
  assert(error instanceof TypeError, String(error));
}

export async function onlyHttpAndHttpsUrls() {
  for (const url of ['ftp://example.com/', 'file:///etc/passwd', 'data:text/plain,hi',
                     'ws://example.com/']) {
    const error = await rejection(() => fetch(url));
    assert(error instanceof TypeError, `${url}: ${error}`);
    assert(error.message.includes('only http: and https:'), `${url}: ${error.message}`);
  }
}

export async function relativeAndMalformedUrlsAreTypeErrors() {
  for (const url of ['/relative', 'not a url', 'http://']) {
    const error = await rejection(() => fetch(url));
    assert(error instanceof TypeError, `${url}: ${error}`);
  }
}

export async function credentialsInTheUrlAreRefused() {
  const error = await rejection(() => fetch('https://user:pass@example.com/'));
  assert(error instanceof TypeError, String(error));
}

export async function redirectModeIsChecked() {
  const error = await rejection(() => fetch('https://example.com/', { redirect: 'sometimes' }));
  assert(error instanceof TypeError, String(error));
  assert(error.message.includes('redirect') && error.message.includes('"manual"'), error.message);
}

export async function signalMustBeAnAbortSignal() {
  const error = await rejection(() => fetch('https://example.com/',
                                            { signal: { aborted: false } }));
  assert(error instanceof TypeError, String(error));
}

export async function anAbortedSignalRejectsWithItsReason() {
  const byDefault = await rejection(() => fetch('https://example.com/',
                                                { signal: AbortSignal.abort() }));
  assert(byDefault instanceof DOMException, String(byDefault));
  assertEquals(byDefault.name, 'AbortError');
  const reason = new Error('mine');
  const given = await rejection(() => fetch('https://example.com/',
                                            { signal: AbortSignal.abort(reason) }));
  assertEquals(given, reason);
}

export async function getAndHeadCannotHaveABody() {
  const error = await rejection(() => fetch('https://example.com/', { body: 'x' }));
  assert(error instanceof TypeError, String(error));
}

export async function withoutASupervisorFetchIsUnavailable() {
  const error = await rejection(() => fetch(new Request('https://example.com/')));
  assert(error instanceof TypeError, String(error));
  assertEquals(error.message, 'fetch() is not available here');
}
