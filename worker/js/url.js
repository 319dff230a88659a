// URL and URLSearchParams (https://url.spec.whatwg.org/) from whatwg-url, the standard's
// reference implementation, and URLPattern (https://urlpattern.spec.whatwg.org/) from
// urlpattern-polyfill. Both are bundled from npm (worker/js/package.json); nothing else of theirs
// becomes a global.
export { URL, URLSearchParams } from 'whatwg-url';
export { URLPattern } from 'urlpattern-polyfill/urlpattern';
