// The URL fast path (worker/js/url_fast_path.js) against the full parser it stands in for
// (whatwg-url's basicURLParse, the one the runtime bundles), on generated URLs:
//   node url_fast_path_differential.mjs <worker/js/url_fast_path.js> <node_modules directory>
// For every input the fast path accepts, the full parser's record must be deep-equal to the fast
// path's (same fields, same types) and serialise back to the input. Inputs are made three ways:
// every edge value of one component in an otherwise canonical URL; random combinations of all
// components' values; and random one-character mutations of canonical URLs. Inputs that must
// reach the full parser (non-ASCII or Punycode hosts, IPv6, default ports, dot segments,
// credentials, anything the serializer would change) are checked to be refused, and canonical
// ones to be accepted, so the path is known to be taken. Prints "N passed, M failed".
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isDeepStrictEqual } from 'node:util';
import path from 'node:path';

const [fastPathFile, nodeModules] = process.argv.slice(2);
const fastPath = await import('data:text/javascript;base64,' +
                              readFileSync(fastPathFile).toString('base64'));
const require = createRequire(path.resolve(nodeModules, 'noop.js'));
const usm = require('whatwg-url/lib/url-state-machine');
const urlencoded = require('whatwg-url/lib/urlencoded');
const conversions = require('webidl-conversions');

let passed = 0;
let failed = 0;
const failures = [];
function check(ok, what) {
  if (ok) {
    ++passed;
  } else {
    ++failed;
    if (failures.length < 40) failures.push(what);
  }
}

// Nothing but a string is a URL, before any URL is remembered (isSerialisedUrl() remembers the
// last one it accepted) and after.
for (const value of ['', null, undefined, 0, {}, Symbol('x')]) {
  check(!fastPath.isSerialisedUrl(value), `isSerialisedUrl(${String(value)}) accepted it`);
  check(fastPath.parseSerialisedUrl(value) === null, `parseSerialisedUrl(${String(value)})`);
}

// A small deterministic PRNG (mulberry32), so that a failure can be reproduced.
let seed = 0x5eed1234;
function random() {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (list) => list[Math.floor(random() * list.length)];

// Each component's values: the first is canonical (so that varying one component at a time
// tests that component), then the edge cases.
const kParts = {
  scheme: ['http://', 'https://', 'HTTP://', 'Https://', 'ws://', 'ftp://', 'file://', 'foo://',
           'http:/', 'http:', 'http:\\\\', 'http:/\\', 'http:///', 'https:', 'http :/', 'h\ttp://'],
  userinfo: ['', 'a@', 'a:b@', ':@', '@', 'a:@', 'a%40b@'],
  host: ['example.com', 'a.b-c.d', 'localhost', 'h.test', 'x', '1.2.3.4', '127.0.0.1', '0.0.0.0',
         '255.255.255.255', '10.0.0.255', 'EXAMPLE.com', 'Example.COM', '256.1.1.1', '1.2.3.04',
         '01.2.3.4', '0x7f.0.0.1', '1.2.3', '1.2.3.4.', '1.2.3.4.5', '4294967295', '0', 'a.123',
         'a.0x1', 'a.0x', '123.a', '0x1.com', 'xn--nxasmq6b.com', 'xn--a.com', 'a.xn--b',
         'XN--BCHER-KVA.example', 'axn--b.com', 'a.b--c', '-a.b', 'a-.b', 'a..b', 'a.', '.a', '',
         'a b', 'ex\tample.com', 'ex\nample.com', '\u00e9.com', 'B\u00fccher.example',
         '\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25.com', 'a\u200db.com', '\u0430.com',
         'a%41.com', 'a%2e.com', 'a_b.com', 'a$b.com', '[::1]', '[::ffff:1.2.3.4]',
         '[1:0:0:0:0:0:0:1]', '[0:0:0:0:0:0:0:0]', '[fe80::1%25eth0]', '[::]', 'a^b', 'a|b',
         'a<b', 'a\\b'],
  port: ['', ':8080', ':1', ':65535', ':80', ':443', ':0', ':', ':08080', ':65536', ':99999',
         ':1a', ':-1', ':+1', ': 1', ':000080', ':21', ':8443'],
  path: ['/', '/a/b', '/a/b/', '/index.html', '/.a', '/..a', '/a.', '/a..', '/...', '/a/./b',
         '/a/../b', '/.', '/..', '/a/.', '/a/..', '/%2e', '/%2E%2e', '/.%2e/x', '/%2e./x',
         '/a/%2e%2E', '/%zz', '/%41', '/%', '/%%', '/a b', '/\u00e9', '/a"b', '/a<b>', '/a^b',
         '/a`b', '/a{b}', '/a|b', '/a[b]', '/a\\b', '//', '/a//b', "/it's", '/~!$&()*+,;=:@',
         '/a\u0000b', '/a\tb', '/a\nb', '/a\u007fb', '', '/C:/x', '/a/C|', '/\ud800',
         '/\ud83d\ude00', '/a%2fb', '/@', '/a:b'],
  query: ['', '?', '?a=1', '?a=1&b=2', '?a=1&&b=&=c', "?it's", '?a b', '?a"b', '?a<b>',
          '?\u00e9', '?a=%zz', '?a+b=c+d', '?{}|^`[]\\', '??', '?a?b/c', '?a\tb', '?%41',
          '?a=\ud800'],
  fragment: ['', '#', '#f', '#a b', '#a"b', '#a`b', '#a<b>', '#\u00e9', '##', '#a?b/c', '#\\',
             '#{}|^[]', "#it's", '#a\tb', '#%zz'],
  around: ['', ' ', '\t', '\u0000', '\n', '\u001f'],
};
const kOrder = ['scheme', 'userinfo', 'host', 'port', 'path', 'query', 'fragment'];

function compose(values) {
  const around = values.around ?? '';
  return around + kOrder.map((name) => values[name]).join('') + (values.aroundEnd ?? around);
}
const canonical = Object.fromEntries(Object.entries(kParts).map(([k, v]) => [k, v[0]]));

const inputs = new Set();
for (const [name, values] of Object.entries(kParts)) {
  for (const value of values) {
    for (const scheme of ['http://', 'https://']) {
      inputs.add(compose({ ...canonical, scheme, [name]: value }));
      inputs.add(compose({ ...canonical, scheme, path: '/p/q', query: '?x=1', fragment: '#f',
                           [name]: value }));
    }
  }
}
for (let i = 0; i < 20000; ++i) {
  const values = {};
  for (const name of Object.keys(kParts)) values[name] = random() < 0.6 ? kParts[name][0] :
                                                                           pick(kParts[name]);
  if (random() < 0.5) values.port = pick(kParts.port);
  inputs.add(compose(values));
}
const kMutations = [...'/\\?#%.:@[]<>"\'`^{}| \t\n\u0000\u007fAZaz09-_~!$&+,;=', '%2e', '%2E',
                    '\u00e9', '\u0430', '\ud800', 'xn--', '..', '//'];
const seeds = ['http://example.com/', 'https://a.b-c.d:8443/x/y?z=1#f', 'http://1.2.3.4/',
               'http://127.0.0.1:8787/api/v1/items?id=7&sort=asc', 'https://localhost/a/b/'];
for (let i = 0; i < 20000; ++i) {
  const base = pick(seeds);
  const at = Math.floor(random() * (base.length + 1));
  const cut = random() < 0.5 ? 0 : 1;
  inputs.add(base.slice(0, at) + pick(kMutations) + base.slice(at + cut));
}

// The invariant, on every input.
let accepted = 0;
for (const input of inputs) {
  const fast = fastPath.parseSerialisedUrl(input);
  check(fastPath.isSerialisedUrl(input) === (fast !== null),
        `isSerialisedUrl disagrees with parseSerialisedUrl on ${JSON.stringify(input)}`);
  if (fast === null) continue;
  ++accepted;
  const full = usm.basicURLParse(input);
  check(full !== null && isDeepStrictEqual(fast, full),
        `${JSON.stringify(input)}: fast path ${JSON.stringify(fast)}, ` +
        `parser ${JSON.stringify(full)}`);
  check(full !== null && usm.serializeURL(full) === input,
        `${JSON.stringify(input)} is not its own serialisation`);
  // Two parses give separate records (URL setters change them in place).
  const again = fastPath.parseSerialisedUrl(input);
  check(again !== fast && again.path !== fast.path, `${JSON.stringify(input)}: records shared`);
}

// Canonical URLs take the fast path; the rest reach the parser.
const kFast = [
  'http://example.com/', 'https://example.com/a/b?c=d&e=f', 'http://127.0.0.1:8787/x',
  'http://1.2.3.4/', 'http://0.0.0.0:1/', 'https://h.test:8443/a/b/#frag', 'http://a/b?',
  'http://a/b#', 'http://a/.well-known/x', 'http://a/b.c/d..e', 'http://a/%zz', 'http://a/%41',
  'http://a//b', 'http://a/b?q?r/s', "http://a/it's", 'http://a/b|c[d]', 'http://a/b?{}|^`[]',
  'https://a/~!$&()*+,;=:@', 'http://a.b-c.d/p', 'http://-a.b/', 'http://a.x0/',
  'http://a/b#c?d/e#f', 'http://localhost:65535/', 'http://axn--b.com/',
];
const kSlow = [
  'HTTP://example.com/', 'http://EXAMPLE.com/', 'http://example.com', 'http://example.com:80/',
  'https://example.com:443/', 'http://a:08080/', 'http://a:65536/', 'http://a:0/',
  'http://\u00e9.com/', 'http://xn--nxasmq6b.com/', 'http://a.xn--b/', 'http://[::1]/',
  'http://1.2.3.04/', 'http://0x7f.0.0.1/', 'http://1.2.3/', 'http://a.123/', 'http://a@b/',
  'http://a:b@c/', 'http://a/./b', 'http://a/../b', 'http://a/%2e/b', 'http://a/b/.',
  'http://a/b c', 'http://a/b\\c', 'http://a/b^c', 'http://a/\u00e9', "http://a/?it's",
  'http://a/#a b', ' http://a/', 'http://a/ ', 'http://a/\tb', 'ws://a/', 'file:///a',
  'http:/a/b', 'http:a/b', 'http://a%41.com/', 'http://a_b.com/', 'http://a./', 'http://a.0x/',
];
for (const input of kFast) {
  check(fastPath.parseSerialisedUrl(input) !== null, `${JSON.stringify(input)} took the slow path`);
}
for (const value of ['', null, undefined, 0, {}, Symbol('x')]) {
  check(!fastPath.isSerialisedUrl(value), `isSerialisedUrl(${String(value)}) accepted it`);
  check(fastPath.parseSerialisedUrl(value) === null, `parseSerialisedUrl(${String(value)})`);
}
for (const input of kSlow) {
  check(fastPath.parseSerialisedUrl(input) === null, `${JSON.stringify(input)} took the fast path`);
}
check(accepted >= 1000, `only ${accepted} generated inputs took the fast path`);

// The urlencoded parser's shortcut (URLSearchParams and every URL's query) and the USVString
// conversion's, on random strings over the characters that matter to them.
const kQueryAlphabet = [...'ab=&+%2 0;?#', '\u00e9', '\ud800', '\udc00', '\ud83d\ude00', '\u0000',
                        '%41', '%2B', '%zz', '%e9', '%C3%A9', '==', '&&'];
let shortcuts = 0;
for (let i = 0; i < 20000; ++i) {
  let text = '';
  const length = Math.floor(random() * 12);
  for (let j = 0; j < length; ++j) text += pick(kQueryAlphabet);
  const fast = fastPath.parseAsciiUrlencoded(text);
  if (fast !== null) {
    ++shortcuts;
    check(isDeepStrictEqual(fast, urlencoded.parseUrlencodedString(text)),
          `parseAsciiUrlencoded(${JSON.stringify(text)}) gave ${JSON.stringify(fast)}`);
  }
  if (fastPath.hasNoSurrogates(text)) {
    check(conversions.USVString(text) === text, `USVString changes ${JSON.stringify(text)}`);
  }
}
check(shortcuts >= 1000, `only ${shortcuts} queries took the urlencoded shortcut`);
check(fastPath.parseAsciiUrlencoded('a%41') === null, 'a query with "%" took the shortcut');
check(fastPath.parseAsciiUrlencoded('\u00e9') === null, 'a non-ASCII query took the shortcut');
check(!fastPath.hasNoSurrogates(1), 'hasNoSurrogates accepted a number');
check(!fastPath.hasNoSurrogates('a\ud800'), 'hasNoSurrogates accepted a lone surrogate');

for (const failure of failures) console.log(`FAIL ${failure}`);
console.log(`${inputs.size} inputs, ${accepted} on the fast path`);
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
