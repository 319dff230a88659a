// Request's URL parsing takes a shortcut for URLs already in serialised form (worker/js/
// absolute_url.js) and URL, URLSearchParams and URLPattern are loaded on first access
// (worker/js/url.js, main.js). The shortcut must give exactly what the URL parser gives, so each
// input near its edges is checked against whatwg-url's URL.
import { assertEquals } from './lib/assert.js';

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
