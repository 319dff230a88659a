// URL and URLSearchParams (https://url.spec.whatwg.org/) from whatwg-url, the standard's
// reference implementation, and URLPattern (https://urlpattern.spec.whatwg.org/) from
// urlpattern-polyfill. Both are bundled from npm (worker/js/package.json); nothing else of theirs
// becomes a global.
//
// Both are loaded on first use, not when the bundle is evaluated: `require` inside a function
// runs esbuild's lazy module initialiser then, while an ESM import would run it with the bundle.
// whatwg-url (with tr46's IDNA mapping table) and urlpattern-polyfill are most of the runtime's
// heap, and every context made from the startup snapshot deserialises that heap; a handler that
// never uses a URL (hello world; request.url itself needs no parse, see absolute_url.js) now
// never pays for them. A context that does use them evaluates them once, on first use.

import { lazyModule } from './lazy_module.js';
import { hasNoSurrogates, parseAsciiUrlencoded, parseSerialisedUrl } from './url_fast_path.js';

// blob_urls.js: the blob URL store, loaded with URL (createObjectURL is a static method of
// URL) or by fetch() of a blob: URL.
export const blobUrls = lazyModule(() => require('./blob_urls.js'));

// Gives three of whatwg-url's steps a shortcut for the inputs where the answer is known without
// running them (url_fast_path.js proves each equal to the step it skips, and
// tests/url_fast_path_differential.mjs checks it): the URL parser for URLs already in serialised
// form (every request URL), the urlencoded parser for ASCII queries without "%", and the
// USVString conversion for strings without surrogates (whatwg-url's builds a new string a code
// unit at a time). Together they are most of the cost of `new URL(request.url)`.
// whatwg-url's own modules call these through their module objects (`usm.basicURLParse(...)`),
// so replacing the property reaches every caller; the versions are pinned by package-lock.json,
// and a missing property fails loudly here rather than silently losing the shortcut.
function addShortcuts(parser, urlencoded, conversions) {
  const replace = (module, name, make) => {
    const original = module[name];
    if (typeof original !== 'function') {
      throw new Error(`url.js: whatwg-url has no ${name} to give a shortcut to`);
    }
    module[name] = make(original);
  };
  replace(parser, 'basicURLParse', (basicURLParse) => (input, options) => {
    // A base URL changes nothing for an absolute http(s) URL with "//" (the parser goes to the
    // authority state either way); `url` and `stateOverride` are the setters' partial parses.
    if (options === undefined ||
        (options.url === undefined && options.stateOverride === undefined)) {
      const record = parseSerialisedUrl(input);
      if (record !== null) return record;
    }
    return basicURLParse(input, options);
  });
  replace(urlencoded, 'parseUrlencodedString', (parseUrlencodedString) => (input) =>
    parseAsciiUrlencoded(input) ?? parseUrlencodedString(input));
  replace(conversions, 'USVString', (usvString) => (value, options) =>
    hasNoSurrogates(value) ? value : usvString(value, options));
}

// whatwg-url's module: { URL, URLSearchParams, ... }, URL with createObjectURL and
// revokeObjectURL (blob_urls.js) added.
export const urlClasses = lazyModule(() => {
  addShortcuts(require('whatwg-url/lib/url-state-machine'), require('whatwg-url/lib/urlencoded'),
               require('webidl-conversions'));
  const classes = require('whatwg-url');
  blobUrls().addObjectURLMethods(classes.URL);
  return classes;
});

export const urlPatternClass =
    lazyModule(() => require('urlpattern-polyfill/urlpattern').URLPattern);

// Whether `value` is a URLSearchParams, without loading whatwg-url: none can exist before it is.
export function isURLSearchParams(value) {
  return urlClasses.loaded() && value instanceof urlClasses().URLSearchParams;
}
