// Parses the absolute URLs that Request and Response.redirect take, remembering recent results.
// Every request the runtime dispatches builds a Request, and a whatwg-url parse costs tens of
// microseconds of CPU, more than the rest of a small request; request URLs repeat (the same
// routes, health checks, subrequest endpoints), so the results for recent inputs are kept.
// Parsing is a pure function of the input, so a remembered result is exactly what a parse would
// give. Bounded: at most kEntries inputs of at most kMaxLength characters, dropped wholesale
// when full.
//
// An input is first checked by isSerialisedUrl() (url_fast_path.js), which recognises URLs that
// are already in the form the URL serializer gives, as the supervisor's http://host/target
// usually is: such a URL is its own href, so a context that only dispatches such requests never
// loads whatwg-url (url.js). That check comes before the remembered results: a request's URL is
// a new string each time, so a Map lookup would hash it first, and `new URL(request.url)` gets the
// check's answer again for nothing (isSerialisedUrl remembers its last URL).
import { urlClasses } from './url.js';
import { isSerialisedUrl } from './url_fast_path.js';

const kEntries = 256;
const kMaxLength = 512;

const recent = new Map();  // input -> { href, hasCredentials }, or null when it is invalid

function parse(text) {
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
  if (isSerialisedUrl(text)) return { href: text, hasCredentials: false };
  const known = recent.get(text);
  if (known !== undefined) return known;
  const result = parse(text);
  if (text.length <= kMaxLength) {
    if (recent.size >= kEntries) recent.clear();
    recent.set(text, result);
  }
  return result;
}
