// Parses the absolute URLs that Request and Response.redirect take, remembering recent results.
// Every request the runtime dispatches builds a Request, and a whatwg-url parse costs tens of
// microseconds of CPU, more than the rest of a small request; request URLs repeat (the same
// routes, health checks, subrequest endpoints), so the results for recent inputs are kept.
// Parsing is a pure function of the input, so a remembered result is exactly what a parse would
// give. Bounded: at most kEntries inputs of at most kMaxLength characters, dropped wholesale
// when full.
//
// An input not remembered is first checked by isSerialisedHttpUrl(), which recognises URLs that
// are already in the form the URL serializer gives, as the supervisor's http://host/target
// usually is: such a URL is its own href, so a context that only dispatches such requests never
// loads whatwg-url (url.js). The remembered results come first because a Map lookup is cheaper
// than that check, which matters to a persistent context serving the same URLs over and over.
import { urlClasses } from './url.js';

const kEntries = 256;
const kMaxLength = 512;

const recent = new Map();  // input -> { href, hasCredentials }, or null when it is invalid

// A dotted-decimal IPv4 octet without leading zeros: the IPv4 serializer's form.
const kOctet = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
// An http(s) URL that the WHATWG URL parser (https://url.spec.whatwg.org/#concept-basic-url-parser)
// leaves unchanged, so that parse(text).href === text, with no credentials. Each part is a subset
// of the parser's fixed points:
// - scheme: lowercase "http" or "https", then "//" (no backslashes, which special schemes read as
//   "/"); no leading/trailing C0 or space and no tab/newline anywhere (all excluded below), so
//   nothing is stripped.
// - host: no "@" (so no credentials) and no "[" (no IPv6). Either a canonical dotted-decimal IPv4
//   address (four octets, as serialised), or a domain of lowercase ASCII letters, digits and "-"
//   in non-empty labels, none starting with "xn--", whose last label starts with a letter. For an
//   ASCII domain with no "xn--" label, domain-to-ASCII is ASCII lowercasing, which changes
//   nothing here; none of these code points is a forbidden domain code point; and a last label
//   starting with a letter is neither all digits nor a "0x" number, so the host does not "end in
//   a number" and is not parsed as IPv4.
// - port: optional; digits without a leading zero, at most 65535 (checked below), and not the
//   scheme's default (checked below), which the serializer would omit.
// - path: "/" and then characters outside the path percent-encode set (no C0, space, '"', "#",
//   "<", ">", "?", "^", "`", "{", "}", "|", "\\" or non-ASCII; "%" is kept as is by the parser),
//   with no segment starting with "." or "%2e" (so no single- or double-dot segments to remove).
// - query: optional; "?" and then characters outside the special-query percent-encode set (the
//   path's set without "?", and no "'").
// - no fragment ("#" appears nowhere).
const kSerialisedHttpUrl = new RegExp(
    `^https?://(?:${kOctet}(?:\\.${kOctet}){3}|(?:[a-z0-9-]+\\.)*[a-z][a-z0-9-]*)` +
    '(?::([1-9][0-9]{0,4}))?' +
    "(/[A-Za-z0-9\\-_~!$&'()*+,;=:@/%.]*)(\\?[A-Za-z0-9\\-_~!$&()*+,;=:@/%.?]*)?$");
const kDotSegment = /\/(?:\.|%2e)/i;

export function isSerialisedHttpUrl(text) {
  const match = kSerialisedHttpUrl.exec(text);
  if (match === null) return false;
  const [, port, path] = match;
  if (port !== undefined) {
    const number = Number(port);
    if (number > 65535 || number === (text.startsWith('https:') ? 443 : 80)) return false;
  }
  if (kDotSegment.test(path)) return false;
  const authority = text.slice(text.indexOf('//') + 2, text.indexOf('/', text.indexOf('//') + 2));
  return !/(?:^|\.)xn--/.test(authority);
}

function parse(text) {
  if (isSerialisedHttpUrl(text)) return { href: text, hasCredentials: false };
  try {
    const url = new (urlClasses().URL)(text);
    return { href: url.href, hasCredentials: url.username !== '' || url.password !== '' };
  } catch {
    return null;
  }
}

// { href, hasCredentials } for an absolute URL, null when `text` is not one (a Worker has no
// base URL, so relative URLs are invalid).
export function parseAbsoluteUrl(text) {
  const known = recent.get(text);
  if (known !== undefined) return known;
  const result = parse(text);
  if (text.length <= kMaxLength) {
    if (recent.size >= kEntries) recent.clear();
    recent.set(text, result);
  }
  return result;
}
