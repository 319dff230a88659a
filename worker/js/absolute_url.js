// Parses the absolute URLs that Request and Response.redirect take, remembering recent results.
// Every request the runtime dispatches builds a Request, and a whatwg-url parse costs tens of
// microseconds of CPU, more than the rest of a small request; request URLs repeat (the same
// routes, health checks, subrequest endpoints), so the results for recent inputs are kept.
// Parsing is a pure function of the input, so a remembered result is exactly what a parse would
// give. Bounded: at most kEntries inputs of at most kMaxLength characters, dropped wholesale
// when full.
import { URL } from './url.js';

const kEntries = 256;
const kMaxLength = 512;

const recent = new Map();  // input -> { href, hasCredentials }, or null when it is invalid

// { href, hasCredentials } for an absolute URL, null when `text` is not one (a Worker has no
// base URL, so relative URLs are invalid).
export function parseAbsoluteUrl(text) {
  const known = recent.get(text);
  if (known !== undefined) return known;
  let result;
  try {
    const url = new URL(text);
    result = { href: url.href, hasCredentials: url.username !== '' || url.password !== '' };
  } catch {
    result = null;
  }
  if (text.length <= kMaxLength) {
    if (recent.size >= kEntries) recent.clear();
    recent.set(text, result);
  }
  return result;
}
