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
const kOctet = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';

// Each part accepts a subset of the parser's fixed points, so that parse(text).href === text:
// - scheme: lowercase "http" or "https", then "//" (no backslashes, which special schemes read as
//   "/"). Every character is printable ASCII (no C0, space, tab, newline or non-ASCII anywhere),
//   so the parser strips and removes nothing.
// - host: no "@" (so no credentials), no "[" (no IPv6) and no "%" (nothing to percent-decode).
//   Either a canonical dotted-decimal IPv4 address (four octets, as serialised), or a domain of
//   lowercase ASCII letters, digits and "-" in non-empty labels whose last label starts with a
//   letter; labels starting with "xn--" are refused below. For an ASCII domain with no "xn--"
//   label, domain-to-ASCII is ASCII lowercasing, which changes nothing here; none of these code
//   points is a forbidden domain code point; a last label starting with a letter is neither all
//   digits nor a "0x" number, so the host does not "end in a number" and is not IPv4.
// - port: optional; digits without a leading zero, at most 65535 and not the scheme's default
//   (both checked below), which the serializer would omit.
// - path: "/" and then printable ASCII outside the path percent-encode set and not "\" (a path
//   separator for special schemes): no '"', "#", "<", ">", "?", "^", "`", "{", "}". "%" is kept as
//   the parser keeps it. Single- and double-dot segments are refused below.
// - query: optional; "?" and then printable ASCII outside the special-query percent-encode set
//   (no '"', "#", "'", "<", ">").
// - fragment: optional; "#" and then printable ASCII outside the fragment percent-encode set
//   (no '"', "<", ">", "`").
const kSerialisedUrl = new RegExp(
    `^(https?)://(?:${kOctet}\\.${kOctet}\\.${kOctet}\\.${kOctet}|` +
    '((?:[a-z0-9-]+\\.)*[a-z][a-z0-9-]*))' +
    '(?::([1-9][0-9]{0,4}))?' +
    '(/[\\x21\\x24-\\x3b\\x3d\\x40-\\x5b\\x5d\\x5f\\x61-\\x7a\\x7c\\x7e]*)' +
    '(?:\\?([\\x21\\x24-\\x26\\x28-\\x3b\\x3d\\x3f-\\x7e]*))?' +
    '(?:#([\\x21\\x23-\\x3b\\x3d\\x3f-\\x5f\\x61-\\x7e]*))?$');

// A single-dot ("." or "%2e") or double-dot segment, which the parser would remove.
const kDotSegment = /\/(?:\.|%2e){1,2}(?=\/|$)/i;
// A label that domain-to-ASCII would decode as Punycode (and may refuse).
const kPunycodeLabel = /(?:^|\.)xn--/;

// The match of kSerialisedUrl for `text` when it is a serialised URL this module handles, else
// null. Groups: 1 scheme, 2-5 IPv4 octets, 6 domain, 7 port, 8 path, 9 query, 10 fragment.
function match(text) {
  if (typeof text !== 'string') return null;
  const found = kSerialisedUrl.exec(text);
  if (found === null) return null;
  const port = found[7];
  if (port !== undefined) {
    const number = +port;
    if (number > 65535 || number === (found[1] === 'https' ? 443 : 80)) return null;
  }
  if (kDotSegment.test(found[8])) return null;
  const domain = found[6];
  if (domain !== undefined && kPunycodeLabel.test(domain)) return null;
  return found;
}

// Whether `text` is a serialised http(s) URL without credentials that this module handles: then
// the full parser's href for it is `text` itself.
export function isSerialisedUrl(text) {
  return match(text) !== null;
}

// A new URL record (whatwg-url's shape: scheme, username, password, host, port, path, query,
// fragment) for `text`, or null when `text` is not a serialised URL this module handles. Each
// call returns fresh objects: URL setters change records in place.
export function parseSerialisedUrl(text) {
  const found = match(text);
  if (found === null) return null;
  const domain = found[6];
  const host = domain !== undefined ? domain :
    ((+found[2] * 256 + +found[3]) * 256 + +found[4]) * 256 + +found[5];
  const port = found[7];
  const query = found[9];
  const fragment = found[10];
  return {
    scheme: found[1],
    username: '',
    password: '',
    host,
    port: port === undefined ? null : +port,
    path: found[8].slice(1).split('/'),
    query: query === undefined ? null : query,
    fragment: fragment === undefined ? null : fragment,
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
  return typeof value === 'string' && !kSurrogate.test(value);
}
