// URLPattern (https://urlpattern.spec.whatwg.org/): named groups, wildcards, regexp groups,
// modifiers, exec/test on strings and init objects, base URLs and invalid patterns.
import { assert, assertEquals, assertThrows } from './lib/assert.js';

export function namedGroups() {
  const pattern = new URLPattern({ pathname: '/books/:id/chapters/:chapter' });
  const match = pattern.exec('https://example.com/books/42/chapters/7');
  assertEquals(match.pathname.input, '/books/42/chapters/7');
  assertEquals(match.pathname.groups.id, '42');
  assertEquals(match.pathname.groups.chapter, '7');
  assertEquals(pattern.test('https://example.com/books/42'), false);
  assertEquals(pattern.exec('https://example.com/books/42'), null);
}

export function componentsDefaultToWildcards() {
  const pattern = new URLPattern({ pathname: '/api/*' });
  assertEquals(pattern.protocol, '*');
  assertEquals(pattern.hostname, '*');
  assertEquals(pattern.search, '*');
  assertEquals(pattern.pathname, '/api/*');
  assert(pattern.test('http://any.test/api/x/y?z#w'), 'any host, query and hash');
  const match = pattern.exec('http://any.test/api/x/y');
  assertEquals(match.pathname.groups[0], 'x/y', 'a wildcard is an unnamed group');
  assertEquals(match.hostname.groups[0], 'any.test');
}

export function constructorStringAndBaseURL() {
  const pattern = new URLPattern('/users/:name', 'https://example.com');
  assertEquals(pattern.protocol, 'https');
  assertEquals(pattern.hostname, 'example.com');
  assertEquals(pattern.pathname, '/users/:name');
  assert(pattern.test('https://example.com/users/ada'), 'matches on the base origin');
  assertEquals(pattern.test('https://other.test/users/ada'), false, 'another host');
  assertEquals(pattern.exec('/users/ada', 'https://example.com').pathname.groups.name, 'ada',
               'exec resolves its input against a base too');
  const full = new URLPattern('https://*.example.com/:path*');
  assertEquals(full.exec('https://a.b.example.com/x/y').hostname.groups[0], 'a.b');
}

export function initObjectsWithBaseURL() {
  const pattern = new URLPattern({ pathname: '/x/:id', baseURL: 'https://h.test/ignored' });
  assertEquals(pattern.hostname, 'h.test');
  assert(pattern.test({ pathname: '/x/1', protocol: 'https', hostname: 'h.test' }));
  assert(pattern.test({ pathname: '/x/1', baseURL: 'https://h.test/' }));
}

export function modifiersAndRegexpGroups() {
  const optional = new URLPattern({ pathname: '/files/:name{.:ext}?' });
  assertEquals(optional.exec({ pathname: '/files/a.txt' }).pathname.groups.ext, 'txt');
  assert(optional.test({ pathname: '/files/readme' }), 'the extension is optional');
  const repeated = new URLPattern({ pathname: '/tags/:tag+' });
  assertEquals(repeated.exec({ pathname: '/tags/a/b/c' }).pathname.groups.tag, 'a/b/c');
  assertEquals(repeated.test({ pathname: '/tags' }), false, '+ needs one segment');
  const digits = new URLPattern({ pathname: '/post/:id(\\d+)' });
  assert(digits.test({ pathname: '/post/123' }));
  assertEquals(digits.test({ pathname: '/post/abc' }), false, 'the regexp group constrains');
  const group = new URLPattern({ pathname: '/blog{/:year}?' });
  assert(group.test({ pathname: '/blog' }) && group.test({ pathname: '/blog/2024' }), 'a group');
}

export function searchAndHash() {
  const pattern = new URLPattern({ search: 'q=:query', hash: 'section-:n' });
  const match = pattern.exec('https://h.test/?q=urls#section-3');
  assertEquals(match.search.groups.query, 'urls');
  assertEquals(match.hash.groups.n, '3');
}

export function caseInsensitiveOption() {
  const pattern = new URLPattern({ pathname: '/About' }, { ignoreCase: true });
  assert(pattern.test({ pathname: '/about' }), 'ignoreCase');
  assertEquals(new URLPattern({ pathname: '/About' }).test({ pathname: '/about' }), false);
}

export function invalidPatternsThrowTypeError() {
  assertThrows(() => new URLPattern({ pathname: '/(' }), TypeError, 'an unclosed group');
  assertThrows(() => new URLPattern({ pathname: '/:id(\\d+' }), TypeError, 'an unclosed regexp');
  assertThrows(() => new URLPattern('/relative'), TypeError, 'a relative string needs a base');
  assertThrows(() => new URLPattern({ pathname: '/:a/:a' }), TypeError, 'a duplicate name');
}
