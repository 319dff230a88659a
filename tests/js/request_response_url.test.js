// The URL-related members of Request and Response (https://fetch.spec.whatwg.org/): Request.url
// parsed and serialised by the URL parser, Response.redirect, Response.error and a Response's
// type, url and redirected.
import { assertEquals, assertThrows } from './lib/assert.js';

export function requestUrlIsNormalised() {
  assertEquals(new Request('HTTPS://Example.COM/a/../b c?x=ü#frag').url,
               'https://example.com/b%20c?x=%C3%BC#frag');
  assertEquals(new Request('https://example.com').url, 'https://example.com/',
               'an empty path becomes /');
  assertEquals(new Request(new URL('https://h.test/p?q')).url, 'https://h.test/p?q',
               'a URL object is accepted');
  const original = new Request('https://h.test/x');
  assertEquals(new Request(original).url, 'https://h.test/x', 'from another Request');
}

export function requestRejectsRelativeAndInvalidUrls() {
  for (const input of ['/relative', 'relative', '', 'http://exa mple.com/', 'https://[::1/']) {
    assertThrows(() => new Request(input), TypeError, JSON.stringify(input));
  }
  try {
    new Request('/path');
    throw new Error('no exception');
  } catch (error) {
    assertEquals(error instanceof TypeError, true);
    assertEquals(error.message.includes('"/path"'), true, `names the input: ${error.message}`);
  }
  assertThrows(() => new Request('https://user:pass@h.test/'), TypeError, 'credentials');
}

export function responseDefaults() {
  const response = new Response('x');
  assertEquals(response.type, 'default');
  assertEquals(response.url, '');
  assertEquals(response.redirected, false);
}

export function responseRedirect() {
  const response = Response.redirect('https://h.test/a b', 301);
  assertEquals(response.status, 301);
  assertEquals(response.headers.get('location'), 'https://h.test/a%20b', 'the URL is serialised');
  assertEquals(response.body, null);
  assertEquals(Response.redirect('https://h.test/').status, 302, 'the default status is 302');
  for (const status of [302, 303, 307, 308]) {
    assertEquals(Response.redirect('https://h.test/', status).status, status);
  }
  for (const status of [200, 300, 304, 399, 0]) {
    assertThrows(() => Response.redirect('https://h.test/', status), RangeError, `${status}`);
  }
  assertThrows(() => Response.redirect('/relative'), TypeError, 'a relative URL');
}

export function responseError() {
  const response = Response.error();
  assertEquals(response.type, 'error');
  assertEquals(response.status, 0);
  assertEquals(response.statusText, '');
  assertEquals(response.ok, false);
  assertEquals(response.body, null);
  const copy = response.clone();
  assertEquals(copy.type, 'error', 'clone keeps the type');
  assertEquals(copy.status, 0);
}

export function classesKeepTheirNames() {
  const classes = { Request, Response, Headers, URL, URLSearchParams, URLPattern };
  for (const [name, cls] of Object.entries(classes)) assertEquals(cls.name, name);
}

// Request remembers recent parses (worker/js/absolute_url.js): repeats, failures included, and
// more distinct URLs than it keeps give what a fresh parse gives.
export function repeatedUrlsParseTheSame() {
  for (let i = 0; i < 3; ++i) {
    assertEquals(new Request('HTTPS://H.test/a/../b').url, 'https://h.test/b');
    assertThrows(() => new Request('/relative'), TypeError, `a relative URL, round ${i}`);
    assertThrows(() => new Request('https://u:p@h.test/'), TypeError, `credentials, round ${i}`);
    assertEquals(Response.redirect('HTTPS://H.test/a/../b').headers.get('location'),
                 'https://h.test/b');
  }
  for (let i = 0; i < 600; ++i) {
    assertEquals(new Request(`https://h.test/${i}/./x`).url, `https://h.test/${i}/x`);
  }
  const long = `https://h.test/${'a'.repeat(1000)}/../b`;
  assertEquals(new Request(long).url, 'https://h.test/b');
  assertEquals(new Request(long).url, 'https://h.test/b', 'long URLs are parsed each time');
}
