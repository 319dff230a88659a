// The members of a Request beyond its method, URL, headers and body
// (https://fetch.spec.whatwg.org/#request-class): mode, credentials, cache, redirect, referrer,
// referrerPolicy, integrity, keepalive, duplex and priority, as the Request constructor derives
// them from its input and its init. Invalid enum values are TypeErrors, as WebIDL's enum
// conversion makes them.
//
// A Worker has no environment settings object: its origin is opaque and it has no base URL. So
// a referrer must be an absolute URL, and it is kept as given (as undici does) rather than
// replaced by "client" for not being same-origin with an origin nobody has.
//
// Only redirect changes what this runtime does (fetch() follows, refuses or returns redirects);
// the others are recorded and readable but have no effect on a fetch from the supervisor.
import { parseAbsoluteUrl } from './absolute_url.js';

const kEnums = {
  mode: ['same-origin', 'no-cors', 'cors', 'navigate'],
  credentials: ['omit', 'same-origin', 'include'],
  cache: ['default', 'no-store', 'reload', 'no-cache', 'force-cache', 'only-if-cached'],
  redirect: ['follow', 'error', 'manual'],
  referrerPolicy: ['', 'no-referrer', 'no-referrer-when-downgrade', 'same-origin', 'origin',
                   'strict-origin', 'origin-when-cross-origin', 'strict-origin-when-cross-origin',
                   'unsafe-url'],
  duplex: ['half'],
  priority: ['high', 'low', 'auto'],
};

// The options of `new Request(url)`. Shared (frozen) by every Request that keeps them all, so the
// Request the runtime builds for each incoming request costs nothing here. `referrer` holds the
// spec's internal value: 'client', 'no-referrer' or a URL's href.
export const kDefaultRequestOptions = Object.freeze({
  mode: 'cors', credentials: 'same-origin', cache: 'default', redirect: 'follow',
  referrer: 'client', referrerPolicy: '', integrity: '', keepalive: false, priority: 'auto',
});

function enumValue(member, value) {
  const text = String(value);
  if (!kEnums[member].includes(text)) {
    throw new TypeError(`Request: ${member} must be one of ${kEnums[member].map((v) =>
      JSON.stringify(v)).join(', ')}, got ${JSON.stringify(text)}`);
  }
  return text;
}

function parseReferrer(value) {
  const text = String(value);
  if (text === '') return 'no-referrer';
  const url = parseAbsoluteUrl(text);
  if (url === null) {
    throw new TypeError(`Request: referrer ${JSON.stringify(text)} is not a valid absolute URL`);
  }
  return url.href === 'about:client' ? 'client' : url.href;
}

// The options of a new Request: `base` (the input Request's options, or kDefaultRequestOptions
// for a URL input) updated by `init`. `fromRequest` says whether the input was a Request (its
// mode is then kept unless init has one); `hasCoreMember` whether init has method, headers, body
// or signal (which the constructor reads itself). Returns `base` itself whenever nothing
// changes, as for the Request the runtime builds for each incoming request.
export function requestOptions(base, init, fromRequest, hasCoreMember) {
  // Named loads, not a loop over the names: this runs for every Request.
  const hasOptionMember = init.referrer !== undefined || init.referrerPolicy !== undefined ||
    init.mode !== undefined || init.credentials !== undefined || init.cache !== undefined ||
    init.redirect !== undefined || init.integrity !== undefined ||
    init.keepalive !== undefined || init.duplex !== undefined || init.priority !== undefined ||
    init.window !== undefined;
  if (!hasOptionMember) {
    // An empty init changes nothing; any other init only resets these (the spec's "if init is
    // not empty" steps).
    if (!hasCoreMember) return base;
    if (base.referrer === 'client' && base.referrerPolicy === '' && base.mode !== 'navigate') {
      return base;
    }
  }
  const options = { ...base };
  if (options.mode === 'navigate') options.mode = 'same-origin';
  options.referrer = 'client';
  options.referrerPolicy = '';
  if (init.referrer !== undefined) options.referrer = parseReferrer(init.referrer);
  if (init.referrerPolicy !== undefined) {
    options.referrerPolicy = enumValue('referrerPolicy', init.referrerPolicy);
  }
  if (init.mode !== undefined) {
    options.mode = enumValue('mode', init.mode);
  } else if (!fromRequest) {
    options.mode = 'cors';
  }
  if (options.mode === 'navigate') {
    throw new TypeError('Request: mode "navigate" cannot be set by a script');
  }
  if (init.credentials !== undefined) options.credentials = enumValue('credentials', init.credentials);
  if (init.cache !== undefined) options.cache = enumValue('cache', init.cache);
  if (options.cache === 'only-if-cached' && options.mode !== 'same-origin') {
    throw new TypeError('Request: cache "only-if-cached" requires mode "same-origin"');
  }
  if (init.redirect !== undefined) options.redirect = enumValue('redirect', init.redirect);
  if (init.integrity !== undefined) options.integrity = String(init.integrity);
  if (init.keepalive !== undefined) options.keepalive = Boolean(init.keepalive);
  if (init.duplex !== undefined) enumValue('duplex', init.duplex);
  if (init.priority !== undefined) options.priority = enumValue('priority', init.priority);
  if (init.window !== undefined && init.window !== null) {
    throw new TypeError('Request: window can only be null');
  }
  return Object.freeze(options);
}

// The referrer getter's value for the internal one.
export function referrerOf(options) {
  if (options.referrer === 'no-referrer') return '';
  if (options.referrer === 'client') return 'about:client';
  return options.referrer;
}

const kCorsSafelistedMethods = ['GET', 'HEAD', 'POST'];
export function checkNoCorsMethod(options, method) {
  if (options.mode === 'no-cors' && !kCorsSafelistedMethods.includes(method)) {
    throw new TypeError(`Request: mode "no-cors" allows only GET, HEAD and POST, not ${method}`);
  }
}
