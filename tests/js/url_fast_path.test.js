// Request's URL parsing takes a shortcut for URLs already in serialised form (worker/js/
// absolute_url.js) and URL, URLSearchParams and URLPattern are loaded on first access
// (worker/js/url.js, main.js). The shortcut must give exactly what the URL parser gives, so each
// input near its edges is checked against whatwg-url's URL.
import { assertEquals, assertThrows } from './lib/assert.js';

const kInputs = [
  'http://example.com/', 'https://example.com/a/b?c=d&e=f', 'http://EXAMPLE.com/',
  'HTTP://example.com/', 'http://example.com', 'http://example.com:80/',
  'https://example.com:443/', 'https://example.com:80/', 'http://example.com:443/',
  'http://example.com:8080/', 'http://example.com:08080/', 'http://example.com:65535/',
  'http://example.com:65536/', 'http://example.com:0/', 'http://example.com:/',
  'http://1.2.3.4/', 'http://127.0.0.1:8787/x', 'http://1.2.3.04/', 'http://01.2.3.4/',
  'http://1.2.3/', 'http://1.2.3.4./', 'http://256.0.0.1/', 'http://0x7f.0.0.1/',
  'http://a.0x7f/', 'http://a.123/', 'http://123.a/', 'http://1.2.3.4.5/', 'http://a.b-c.d/p',
  'http://-a.b/', 'http://a..b/', 'http://a./', 'http://xn--nxasmq6b.com/', 'http://xn--a.com/',
  'http://a.xn--b/', 'http://axn--b.com/', 'http://a/./b', 'http://a/../b', 'http://a/b/.',
  'http://a/%2e/b', 'http://a/%2E%2e/b', 'http://a/.well-known/x', 'http://a/b.c/d..e',
  "http://a/it's", "http://a/b?it's", 'http://a/b^c', 'http://a/b|c', 'http://a/b`c',
  'http://a/b{c}', 'http://a/%zz', 'http://a/%41', 'http://a//b', 'http://a/b?q?r/s',
  'http://a/b?', 'http://a/b#', 'http://a/b#c', 'http://a/b\\c', 'http://a\\b/', 'http://a/b c',
  'http://a/b\tc', ' http://a/b', 'http://a/b ', 'http://a/\u00e9', 'http://\u00e9.com/',
  'http://a@b/', 'http://a:b@c/', 'http://[::1]/', 'http://a/b"c', 'http://a/b<c>',
  'http:/a/b', 'http:a/b', 'ftp://a/b', 'https://a/~!$&()*+,;=:@', 'http://a/b?~!$&()*+,;=:@/',
];

export function requestUrlsMatchTheUrlParser() {
  for (const input of kInputs) {
    let expected;
    try {
      const url = new URL(input);
      expected = url.username !== '' || url.password !== '' ? 'TypeError' : url.href;
    } catch (error) {
      expected = error.name;
    }
    let actual;
    try {
      actual = new Request(input).url;
    } catch (error) {
      actual = error.name;
    }
    assertEquals(actual, expected, JSON.stringify(input));
  }
}

export function lazyGlobalsBecomeOrdinaryProperties() {
  for (const name of ['URL', 'URLSearchParams', 'URLPattern']) {
    const value = globalThis[name];
    assertEquals(typeof value, 'function', name);
    assertEquals(value.name, name);
    const descriptor = Object.getOwnPropertyDescriptor(globalThis, name);
    assertEquals(descriptor.value, value, `${name} is a data property once read`);
    assertEquals(descriptor.writable, true);
    assertEquals(descriptor.enumerable, false);
    assertEquals(descriptor.configurable, true);
  }
  assertEquals(new URL('https://h.test/?a=1').searchParams instanceof URLSearchParams, true);
  assertEquals(new URLPattern({ pathname: '/a/:id' }).exec('https://h.test/a/7').pathname.groups.id,
               '7');
}

export function urlSearchParamsBodiesAreRecognised() {
  const request = new Request('https://h.test/', { method: 'POST',
                                                  body: new URLSearchParams({ a: '1 2' }) });
  assertEquals(request.headers.get('content-type'),
               'application/x-www-form-urlencoded;charset=UTF-8');
}

// whatwg-url's domain-to-ASCII step lowercases ASCII hosts without "xn--" labels itself and
// hands the rest to tr46 (worker/js/tr46_lazy.js).
export function hostsAreMappedToAscii() {
  const cases = [
    ['http://EXAMPLE.com/', 'example.com'], ['http://a_b.com/', 'a_b.com'],
    ['http://a%41.com/', 'aa.com'], ['http://B\u00fccher.example/', 'xn--bcher-kva.example'],
    ['http://xn--bcher-kva.example/', 'xn--bcher-kva.example'],
    ['http://XN--BCHER-KVA.example/', 'xn--bcher-kva.example'],
    ['http://\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25.com/', 'example.com'],
    ['http://xn--a.com/', 'TypeError'], ['http://a\u200db.com/', 'TypeError'],
  ];
  for (const [input, expected] of cases) {
    let actual;
    try {
      actual = new URL(input).host;
    } catch (error) {
      actual = error.name;
    }
    assertEquals(actual, expected, JSON.stringify(input));
  }
}

// URLs in serialised form skip whatwg-url's parser (worker/js/url_fast_path.js, wired in by
// url.js); the URL objects made that way must be whatwg-url's in every respect: components,
// the live searchParams, setters, and no state shared between two URLs of the same text.
export function serialisedUrlsMakeOrdinaryUrlObjects() {
  const text = 'https://h.test:8443/a/b?x=1&y=a+b&z#frag';
  const url = new URL(text);
  assertEquals(url.href, text);
  assertEquals(url.origin, 'https://h.test:8443');
  assertEquals(url.protocol, 'https:');
  assertEquals(url.host, 'h.test:8443');
  assertEquals(url.hostname, 'h.test');
  assertEquals(url.port, '8443');
  assertEquals(url.pathname, '/a/b');
  assertEquals(url.search, '?x=1&y=a+b&z');
  assertEquals(url.hash, '#frag');
  assertEquals(url.searchParams.get('y'), 'a b');
  assertEquals(url.searchParams.get('z'), '');
  assertEquals([...url.searchParams.keys()].join(), 'x,y,z');

  const other = new URL(text);
  url.pathname = '/c';
  url.searchParams.append('w', '2');
  url.hostname = 'g.test';
  assertEquals(url.href, 'https://g.test:8443/c?x=1&y=a+b&z=&w=2#frag');
  assertEquals(other.href, text, 'a second URL of the same text is unchanged');
  assertEquals(other.searchParams.get('w'), null);

  const ipv4 = new URL('http://127.0.0.1:8787/');
  assertEquals(ipv4.hostname, '127.0.0.1');
  assertEquals(ipv4.host, '127.0.0.1:8787');
  ipv4.port = '80';
  assertEquals(ipv4.href, 'http://127.0.0.1/');
}

export function serialisedUrlsWorkAsBasesAndWithBases() {
  assertEquals(new URL('../x?q', 'http://h.test/a/b/c').href, 'http://h.test/a/x?q');
  assertEquals(new URL('http://h.test/p', 'https://other.test/').href, 'http://h.test/p');
  assertEquals(new URL('http://h.test/p', 'http://other.test/').href, 'http://h.test/p');
  assertEquals(new URL('http:p', 'http://h.test/a/').href, 'http://h.test/a/p',
               'a same-scheme base resolves a URL without "//" (not a serialised URL)');
  const url = new URL('http://h.test/a');
  url.href = 'https://g.test/b?c#d';
  assertEquals(url.host, 'g.test');
  assertEquals(url.searchParams.get('c'), '');
  url.search = '?e=%41';
  assertEquals(url.searchParams.get('e'), 'A', 'percent-decoding still happens');
  assertEquals(URL.canParse('https://h.test/'), true);
  assertEquals(URL.canParse('https://h.test:99999/'), false);
}

export function requestUrlsRoundTrip() {
  for (const text of ['http://127.0.0.1:8787/api/items?id=7', 'https://h.test/a%20b/?q=%zz',
                      'http://h.test/it\'s?x=\'', 'http://H.test/./a/../b']) {
    const request = new Request(text);
    const url = new URL(request.url);
    assertEquals(url.href, request.url, text);
    assertEquals(new URL(url.href).pathname, url.pathname, text);
  }
}

export function urlSearchParamsStillDecode() {
  const cases = [['a=1&b=+x', 'b', ' x'], ['a=%41', 'a', 'A'], ['%C3%A9=1', '\u00e9', '1'],
                 ['\u00e9=\ud800', '\u00e9', '\ufffd'], ['&&a&', 'a', ''], ['=x', '', 'x']];
  for (const [init, name, value] of cases) {
    assertEquals(new URLSearchParams(init).get(name), value, JSON.stringify(init));
  }
  assertEquals(new URLSearchParams('?a=b').get('a'), 'b', 'the constructor strips one "?"');
  assertEquals(new URL('http://h.test/\ud800').pathname, '/%EF%BF%BD',
               'lone surrogates still become U+FFFD');
}

// A URL made from a serialised URL builds its URLSearchParams on first use, from the query it
// has then; the href and search setters replace the list, so setting them first is the same.
export function searchParamsFollowTheUrlWhenMadeLate() {
  const a = new URL('http://h.test/p?x=1');
  a.search = '?y=2&y=3';
  assertEquals(a.searchParams.getAll('y').join(), '2,3');
  assertEquals(a.searchParams.has('x'), false);
  const b = new URL('http://h.test/p?x=1');
  b.href = 'http://h.test/q?z=%41';
  assertEquals(b.searchParams.get('z'), 'A');
  const c = new URL('http://h.test/p?x=1');
  c.pathname = '/other';
  c.hash = '#h';
  assertEquals(c.searchParams.get('x'), '1');
  assertEquals(c.searchParams, c.searchParams, 'searchParams is the same object each time');
  c.searchParams.set('x', 'a b');
  assertEquals(c.href, 'http://h.test/other?x=a+b#h');
  c.search = '';
  assertEquals(c.searchParams.size, 0);
  const d = new URL('http://h.test/p');
  assertEquals(d.searchParams.size, 0);
  d.searchParams.append('k', 'v');
  assertEquals(d.href, 'http://h.test/p?k=v');
}

export function urlSubclassesAndStaticsKeepWorking() {
  class RouteURL extends URL {
    get route() {
      return this.pathname.split('/')[1];
    }
  }
  const url = new RouteURL('http://h.test/items/7');
  assertEquals(url instanceof RouteURL && url instanceof URL, true);
  assertEquals(url.route, 'items');
  assertEquals(url.href, 'http://h.test/items/7');
  assertEquals(Object.prototype.toString.call(url), '[object URL]');
  assertEquals(JSON.stringify(url), '"http://h.test/items/7"');
  assertEquals(URL.parse('http://h.test/a?b').search, '?b');
  assertEquals(URL.parse('http://h.test:0x/'), null);
  assertThrows(() => new URL('http://h.test:99999/'), TypeError);
}
