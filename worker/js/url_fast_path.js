// Recognises http(s) URLs that are already in the form the WHATWG URL serializer gives
// (https://url.spec.whatwg.org/#concept-url-serializer), and splits them into the URL record that
// the full parser (https://url.spec.whatwg.org/#concept-basic-url-parser) would return for them,
// without running it. The request URLs the supervisor hands the worker are in that form, and so
// is every `request.url`, so `new URL(request.url)` (how scripts route) takes this path: one
// regular expression instead of whatwg-url's character-by-character state machine (16 µs a URL on
// the worker's V8; url.js wires this in). Anything else returns null and goes to whatwg-url.
//
// The invariant: for every string `text`, parseSerialisedUrl(text) is null or deep-equal to
// whatwg-url's basicURLParse(text) (same fields, same types: an IPv4 host is a number, the path a
// list of segments). tests/url_fast_path_differential.mjs checks it on generated URLs.
//
// This module imports nothing, so that the differential test can load it beside whatwg-url in
// Node, outside the bundle.

// A dotted-decimal IPv4 octet without leading zeros: the IPv4 serializer's form.
const kOctet = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
// A domain label that domain-to-ASCII would not decode as Punycode ("xn--").
const kLabel = '(?!xn--)[a-z0-9-]+';
// A port number from 1 to 65535 without a leading zero.
const kPort =
    '(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])';
// Each part accepts a subset of the parser's fixed points, so that parse(text).href === text:
// - scheme: lowercase "http" or "https", then "//" (no backslashes, which special schemes read as
//   "/"). Every character is printable ASCII (no C0, space, tab, newline or non-ASCII anywhere),
//   so the parser strips and removes nothing.
// - host: no "@" (so no credentials), no "[" (no IPv6) and no "%" (nothing to percent-decode).
//   Either a canonical dotted-decimal IPv4 address (four octets, as serialised), or a domain of
//   lowercase ASCII letters, digits and "-" in non-empty labels, none starting with "xn--", whose
//   last label starts with a letter. For an ASCII domain with no "xn--" label, domain-to-ASCII
//   is ASCII lowercasing, which changes nothing here; none of these code points is a forbidden
//   domain code point; a last label starting with a letter is neither all digits nor a "0x"
//   number, so the host does not "end in a number" and is not IPv4.
// - port: optional; 1 to 65535 without a leading zero, and not the scheme's default, which the
//   serializer would omit.
// - path: "/"-separated segments of printable ASCII outside the path percent-encode set and not
//   "\" (a path separator for special schemes): no '"', "#", "<", ">", "?", "^", "`", "{", "}".
//   "%" is kept as the parser keeps it. No segment is a single-dot ("." or "%2e", any case) or
//   double-dot segment, which the parser would remove.
// - query: optional; "?" and then printable ASCII outside the special-query percent-encode set
//   (no '"', "#", "'", "<", ">").
// - fragment: optional; "#" and then printable ASCII outside the fragment percent-encode set
//   (no '"', "<", ">", "`").
// One test() of this expression is the whole check; parseSerialisedUrl() then cuts the text at
// its delimiters, which the expression guarantees to be where indexOf() finds them.
const kHost = `(?:${kOctet}\\.${kOctet}\\.${kOctet}\\.${kOctet}|` +
    `(?:${kLabel}\\.)*(?!xn--)[a-z][a-z0-9-]*)`;
const kSegmentChar = '[\\x21\\x24-\\x2e\\x30-\\x3b\\x3d\\x40-\\x5b\\x5d\\x5f\\x61-\\x7a\\x7c\\x7e]';
const kDotSegment = '(?:\\.|%2[eE]){1,2}(?:[/?#]|$)';
const kSerialisedUrl = new RegExp(
    `^(?:http://${kHost}(?::(?!80/)${kPort})?|https://${kHost}(?::(?!443/)${kPort})?)` +
    `(?:/(?!${kDotSegment})${kSegmentChar}*)+` +
    '(?:\\?[\\x21\\x24-\\x26\\x28-\\x3b\\x3d\\x3f-\\x7e]*)?' +
    '(?:#[\\x21\\x23-\\x3b\\x3d\\x3f-\\x5f\\x61-\\x7e]*)?$');

// The last string isSerialisedUrl() accepted. A request's URL is checked when its Request is made
// and again when the handler makes `new URL(request.url)`; comparing with the last one (the same
// string, so a pointer comparison) answers the second check without running the expression.
let lastSerialisedUrl = Symbol('none yet');

// Whether `text` is a serialised http(s) URL without credentials that this module handles: then
// the full parser's href for it is `text` itself.
export function isSerialisedUrl(text) {
  if (text === lastSerialisedUrl) return true;
  if (typeof text !== 'string' || !kSerialisedUrl.test(text)) return false;
  lastSerialisedUrl = text;
  return true;
}

// The IPv4 address `text` holds from `start` to `end` (four decimal octets, checked already) as
// the parser's number.
function ipv4Number(text, start, end) {
  let address = 0;
  let octet = 0;
  for (let i = start; i < end; ++i) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      address = address * 256 + octet;
      octet = 0;
    } else {
      octet = octet * 10 + (c - 0x30);
    }
  }
  return address * 256 + octet;
}

// A new URL record (whatwg-url's shape: scheme, username, password, host, port, path, query,
// fragment) for `text`, or null when `text` is not a serialised URL this module handles. Each
// call returns fresh objects: URL setters change records in place.
export function parseSerialisedUrl(text) {
  if (!isSerialisedUrl(text)) return null;
  const https = text.charCodeAt(4) === 0x73;  // "s"
  const hostStart = https ? 8 : 7;
  // "/" cannot occur in the host, "#" only once and only at the fragment, "?" first at the query
  // (later ones are part of the query or fragment).
  const pathStart = text.indexOf('/', hostStart);
  const hash = text.indexOf('#', pathStart);
  const end = hash < 0 ? text.length : hash;
  let question = text.indexOf('?', pathStart);
  if (question > end) question = -1;
  const pathEnd = question < 0 ? end : question;
  const colon = text.indexOf(':', hostStart);
  const hostEnd = colon >= 0 && colon < pathStart ? colon : pathStart;
  // An IPv4 address's last label starts with a digit, a domain's with a letter.
  let lastLabel = hostEnd - 1;
  while (lastLabel > hostStart && text.charCodeAt(lastLabel - 1) !== 0x2e) --lastLabel;
  const first = text.charCodeAt(lastLabel);
  const host = first >= 0x30 && first <= 0x39 ? ipv4Number(text, hostStart, hostEnd) :
    text.slice(hostStart, hostEnd);
  const path = [];
  for (let start = pathStart + 1; ;) {
    const slash = text.indexOf('/', start);
    if (slash < 0 || slash >= pathEnd) {
      path.push(text.slice(start, pathEnd));
      break;
    }
    path.push(text.slice(start, slash));
    start = slash + 1;
  }
  return {
    scheme: https ? 'https' : 'http',
    username: '',
    password: '',
    host,
    port: hostEnd === pathStart ? null : +text.slice(colon + 1, pathStart),
    path,
    query: question < 0 ? null : text.slice(question + 1, end),
    fragment: hash < 0 ? null : text.slice(hash + 1),
  };
}

// Characters after which the urlencoded parser's UTF-8 round trip and percent-decoding could
// change a name or value: "%", and anything outside ASCII (lone surrogates included).
const kNeedsDecoding = /[%\u0080-\uffff]/;
const kPlus = /\+/g;

// The application/x-www-form-urlencoded parser's output
// (https://url.spec.whatwg.org/#concept-urlencoded-string-parser) for `input`, a list of
// [name, value] pairs, when `input` is ASCII without "%": then UTF-8 encoding and decoding and
// percent-decoding change nothing, and only the split on "&" and "=" and "+" → " " remain. Null
// for other inputs (the full parser handles them). Deep-equal to whatwg-url's
// parseUrlencodedString(input) whenever not null.
export function parseAsciiUrlencoded(input) {
  if (kNeedsDecoding.test(input)) return null;
  const output = [];
  if (input === '') return output;
  const plus = input.includes('+');
  for (const sequence of input.split('&')) {
    if (sequence === '') continue;
    const equals = sequence.indexOf('=');
    let name = equals < 0 ? sequence : sequence.slice(0, equals);
    let value = equals < 0 ? '' : sequence.slice(equals + 1);
    if (plus) {
      name = name.replace(kPlus, ' ');
      value = value.replace(kPlus, ' ');
    }
    output.push([name, value]);
  }
  return output;
}

const kSurrogate = /[\ud800-\udfff]/;

// Whether the string `value` has no surrogate code units: then converting it to a USVString
// (https://webidl.spec.whatwg.org/#es-USVString, which replaces lone surrogates) gives it back
// unchanged.
export function hasNoSurrogates(value) {
  // A serialised URL is ASCII.
  if (value === lastSerialisedUrl) return true;
  return typeof value === 'string' && !kSurrogate.test(value);
}
