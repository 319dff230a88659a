// URL and URLSearchParams (https://url.spec.whatwg.org/): parsing, serialisation, IDNA,
// percent-encoding, base URLs, errors and the live link between a URL and its searchParams.
import { assert, assertArrayEquals, assertEquals, assertThrows } from './lib/assert.js';

export function parsesAndNormalises() {
  const url = new URL('HTTPS://user:pa%20ss@EXAMPLE.com:443/a/./b/../c?q=1#frag');
  assertEquals(url.href, 'https://user:pa%20ss@example.com/a/c?q=1#frag');
  assertEquals(url.protocol, 'https:');
  assertEquals(url.username, 'user');
  assertEquals(url.password, 'pa%20ss');
  assertEquals(url.host, 'example.com', 'the default port is dropped');
  assertEquals(url.port, '');
  assertEquals(url.pathname, '/a/c');
  assertEquals(url.search, '?q=1');
  assertEquals(url.hash, '#frag');
  assertEquals(url.origin, 'https://example.com');
  assertEquals(String(url), url.href);
  assertEquals(url.toJSON(), url.href);
  assertEquals(JSON.stringify({ url }), '{"url":"https://example.com/a/c?q=1#frag"}'.replace(
      'https://', 'https://user:pa%20ss@'));
  assertEquals(Object.prototype.toString.call(url), '[object URL]');
}

export function resolvesAgainstABase() {
  assertEquals(new URL('../d?x', 'http://h.test/a/b/c').href, 'http://h.test/a/d?x');
  assertEquals(new URL('//other.test/p', 'https://h.test/').href, 'https://other.test/p');
  assertEquals(new URL('?q', 'http://h.test/path#f').href, 'http://h.test/path?q');
  assertEquals(new URL('#f2', 'http://h.test/path?q').href, 'http://h.test/path?q#f2');
  assertEquals(new URL('/x', new URL('http://h.test/a/b')).href, 'http://h.test/x',
               'a URL object is a valid base');
  assertEquals(new URL('http://abs.test/', 'http://ignored.test/').href, 'http://abs.test/');
}

export function invalidUrlsThrowTypeErrorNamingTheInput() {
  for (const input of ['', '/relative', 'http://', 'http://exa mple.com/', 'https://[::1/',
                       'http://example.com:99999/']) {
    assertThrows(() => new URL(input), TypeError, JSON.stringify(input));
  }
  try {
    new URL('not a url');
    throw new Error('no exception');
  } catch (error) {
    assert(error instanceof TypeError, 'a TypeError');
    assert(error.message.includes('not a url'), `the message names the input: ${error.message}`);
  }
  assertThrows(() => new URL('x', 'not a base'), TypeError, 'an invalid base');
  assertThrows(() => new URL(), TypeError, 'the argument is required');
}

export function canParseAndParse() {
  assertEquals(URL.canParse('https://example.com'), true);
  assertEquals(URL.canParse('/path'), false);
  assertEquals(URL.canParse('/path', 'https://example.com'), true);
  assertEquals(URL.parse('nope'), null);
  assertEquals(URL.parse('b', 'https://example.com/a/').href, 'https://example.com/a/b');
}

export function internationalisedDomainNames() {
  assertEquals(new URL('https://Bücher.example/').hostname, 'xn--bcher-kva.example');
  assertEquals(new URL('https://xn--bcher-kva.example/').hostname, 'xn--bcher-kva.example');
  assertEquals(new URL('https://日本語.jp/').host, 'xn--wgv71a119e.jp');
  assertEquals(new URL('https://ＥＸＡＭＰＬＥ．com/').hostname, 'example.com',
               'full-width characters map to ASCII');
  assertEquals(new URL('https://faß.de/').hostname, 'xn--fa-hia.de', 'nontransitional: ß stays');
  assertThrows(() => new URL('https://xn--/'), TypeError, 'an invalid punycode label');
  assertThrows(() => new URL('https://a\u0000b/'), TypeError, 'a forbidden host code point');
}

export function hostsAndPorts() {
  assertEquals(new URL('http://0x7f.1/').hostname, '127.0.0.1', 'IPv4 in hex');
  assertEquals(new URL('http://[0:0::1]/').hostname, '[::1]', 'IPv6 is compressed');
  assertEquals(new URL('http://h.test:8080/').port, '8080');
  assertEquals(new URL('ws://h.test:443/').port, '443', '443 is not the default for ws');
  assertEquals(new URL('wss://h.test:443/').port, '', '443 is the default for wss');
  assertEquals(new URL('file:///etc/hosts').origin, 'null');
  assertEquals(new URL('blob:https://a.test/uuid').origin, 'https://a.test');
}

export function percentEncoding() {
  const url = new URL('https://h.test/a b/ü?q=a b&ü=€#frag ment');
  assertEquals(url.pathname, '/a%20b/%C3%BC');
  assertEquals(url.search, '?q=a%20b&%C3%BC=%E2%82%AC');
  assertEquals(url.hash, '#frag%20ment');
  assertEquals(new URL('https://h.test/%7e%2F').pathname, '/%7e%2F', 'existing escapes are kept');
  assertEquals(new URL("https://h.test/?'").search, "?%27", "' is encoded in special queries");
  assertEquals(new URL("foo://h/?'").search, "?'", "but not in non-special ones");
  assertEquals(new URL('mailto:a b@c').pathname, 'a b@c', 'opaque paths keep spaces');
}

export function settersFollowTheStateMachine() {
  const url = new URL('http://h.test/p');
  url.protocol = 'https';
  assertEquals(url.href, 'https://h.test/p');
  url.protocol = 'foo';
  assertEquals(url.protocol, 'https:', 'a special scheme cannot become a non-special one');
  url.port = '8443';
  url.pathname = 'x y';
  url.search = 'a=1';
  url.hash = 'h';
  assertEquals(url.href, 'https://h.test:8443/x%20y?a=1#h');
  url.port = 'abc';
  assertEquals(url.port, '8443', 'an invalid port is ignored');
  url.host = 'other.test:9';
  assertEquals(url.host, 'other.test:9');
  url.href = 'http://new.test/';
  assertEquals(url.host, 'new.test');
  assertThrows(() => { url.href = '/relative'; }, TypeError, 'href requires a valid URL');
}

export function searchParamsIsLive() {
  const url = new URL('https://h.test/?a=1&b=2');
  const params = url.searchParams;
  assertEquals(url.searchParams, params, 'the same object each time');
  params.append('c', 'x y');
  assertEquals(url.search, '?a=1&b=2&c=x+y', 'params write through to the URL');
  url.search = '?z=9';
  assertEquals(params.get('z'), '9', 'the URL writes through to params');
  assertEquals(params.has('a'), false);
  params.delete('z');
  assertEquals(url.href, 'https://h.test/', 'an empty query drops the ?');
  url.href = 'https://h.test/?k=v';
  assertEquals(params.get('k'), 'v');
}

export function searchParamsConstructors() {
  assertEquals(new URLSearchParams('?a=1&b=2').toString(), 'a=1&b=2', 'a leading ? is dropped');
  assertEquals(new URLSearchParams({ x: '1', y: 'two' }).toString(), 'x=1&y=two');
  assertEquals(new URLSearchParams([['x', '1'], ['x', '2']]).getAll('x').join(), '1,2');
  assertEquals(new URLSearchParams(new URLSearchParams('q=1')).get('q'), '1');
  assertThrows(() => new URLSearchParams([['only-one']]), TypeError, 'pairs need two items');
}

export function searchParamsEncoding() {
  const params = new URLSearchParams('a=b+c&d=e%20f&g=%zz&h');
  assertEquals(params.get('a'), 'b c', '+ decodes to a space');
  assertEquals(params.get('d'), 'e f', '%20 decodes to a space');
  assertEquals(params.get('g'), '%zz', 'a bad escape stays');
  assertEquals(params.get('h'), '');
  assertEquals(params.get('missing'), null);
  const out = new URLSearchParams();
  out.set('q', 'a b+c&d=é*~');
  assertEquals(out.toString(), 'q=a+b%2Bc%26d%3D%C3%A9*%7E',
               'application/x-www-form-urlencoded serialisation');
}

export function searchParamsSortAndIterate() {
  const params = new URLSearchParams('z=1&a=2&z=0&b=3&a=1');
  params.sort();
  assertEquals(params.toString(), 'a=2&a=1&b=3&z=1&z=0', 'a stable sort by name');
  assertArrayEquals([...params.keys()], ['a', 'a', 'b', 'z', 'z']);
  assertArrayEquals([...params.values()], ['2', '1', '3', '1', '0']);
  assertEquals(JSON.stringify([...params]), '[["a","2"],["a","1"],["b","3"],["z","1"],["z","0"]]');
  const seen = [];
  params.forEach((value, name, self) => seen.push(`${name}=${value}:${self === params}`));
  assertEquals(seen.join(), 'a=2:true,a=1:true,b=3:true,z=1:true,z=0:true');
  assertEquals(params.size, 5);
  const units = new URLSearchParams('\u{1F600}=1&\uFFFD=2');
  units.sort();
  assertEquals([...units.keys()].join(), '\u{1F600},\uFFFD',
               'sorted by UTF-16 code units (a surrogate 0xD83D sorts before 0xFFFD)');
}

export function searchParamsHasAndDeleteWithValue() {
  const params = new URLSearchParams('a=1&a=2&b=3');
  assertEquals(params.has('a', '2'), true);
  assertEquals(params.has('a', '3'), false);
  params.delete('a', '1');
  assertEquals(params.toString(), 'a=2&b=3');
  params.set('a', 'x');
  assertEquals(params.toString(), 'a=x&b=3');
}

export function urlIsAGlobalClass() {
  for (const name of ['URL', 'URLSearchParams', 'URLPattern']) {
    // Read first: until then the global is an accessor that loads it (worker/js/url.js).
    const value = globalThis[name];
    const desc = Object.getOwnPropertyDescriptor(globalThis, name);
    assertEquals(typeof desc.value, 'function', name);
    assertEquals(desc.value, value, name);
    assertEquals(desc.enumerable, false, `${name} is not enumerable`);
  }
  assertThrows(() => URL('https://h.test/'), TypeError, 'URL needs new');
}
