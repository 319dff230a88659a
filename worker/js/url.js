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

// Replaces module[name], a function, with make(original), failing loudly when whatwg-url no
// longer has it rather than silently losing a shortcut.
function replace(module, name, make) {
  const original = module[name];
  if (typeof original !== 'function') {
    throw new Error(`url.js: whatwg-url has no ${name} to give a shortcut to`);
  }
  module[name] = make(original);
}

// Gives whatwg-url shortcuts for the inputs where the answer is known without running its steps
// (url_fast_path.js proves each equal to what it skips; tests/url_fast_path_differential.mjs and
// tests/js/url_fast_path.test.js check them). Together they make `new URL(request.url)` cost
// about what a plain object with a few strings costs, instead of 16 µs:
// - the URL constructor, for a URL already in serialised form (every request URL) and no base,
//   builds its internal object from the record parseSerialisedUrl() gives; the URL's
//   URLSearchParams, which the constructor would build at once, is built on first use (below);
// - the URL parser itself, for such URLs (with a base, and for the href setter);
// - the urlencoded parser, for ASCII queries without "%";
// - the USVString conversion, for strings without surrogates (whatwg-url's builds a new string a
//   code unit at a time).
// whatwg-url's own modules reach these through their module objects (`usm.basicURLParse(...)`,
// `exports.setup(...)`, `conversions["USVString"](...)`), so replacing a module object's
// property reaches every caller. The versions are pinned by package-lock.json.
function addShortcuts() {
  const parser = require('whatwg-url/lib/url-state-machine');
  const urlencoded = require('whatwg-url/lib/urlencoded');
  const conversions = require('webidl-conversions');
  const utils = require('whatwg-url/lib/utils');
  const urlWrapper = require('whatwg-url/lib/URL');
  const urlImpl = require('whatwg-url/lib/URL-impl');
  const searchParamsWrapper = require('whatwg-url/lib/URLSearchParams');
  const URLImpl = urlImpl.implementation;
  const { implSymbol, wrapperSymbol } = utils;
  if (urlImpl.init !== undefined || typeof URLImpl !== 'function' ||
      typeof implSymbol !== 'symbol' || typeof wrapperSymbol !== 'symbol' ||
      Object.getOwnPropertyDescriptor(URLImpl.prototype, '_query') !== undefined) {
    throw new Error('url.js: whatwg-url\'s URL internals are not the ones its shortcuts expect');
  }

  // URLImpl's `_query` (its URLSearchParams' internal object) becomes an accessor that builds
  // it on first use, from the URL's query as it is then, which is the query it was built from:
  // whatwg-url changes a URL's query only in the href and search setters, which also replace the
  // list, and through the URLSearchParams itself. URLImpl's constructor still assigns `_query`
  // (the setter keeps it); the shortcut below leaves it to the getter.
  const kQuery = Symbol('query');
  const kGlobalObject = Symbol('globalObject');
  Object.defineProperty(URLImpl.prototype, '_query', {
    get() {
      let query = this[kQuery];
      if (query === undefined) {
        query = searchParamsWrapper.createImpl(this[kGlobalObject], [this._url.query ?? ''],
                                               { doNotStripQMark: true });
        query._url = this;
        this[kQuery] = query;
      }
      return query;
    },
    set(query) {
      this[kQuery] = query;
    },
    configurable: true,
  });

  // The wrapper's constructor ends in setup(wrapper, globalObject, [url, base]); without a base,
  // a serialised URL's internal object is URLImpl's constructor's result minus the parse: `_url`
  // is the record and `_query` waits for its getter. The rest is what setup() does.
  replace(urlWrapper, 'setup', (setup) => (wrapper, globalObject, args, privateData) => {
    if (args !== undefined && args[1] === undefined && privateData === undefined) {
      const record = parseSerialisedUrl(args[0]);
      if (record !== null) {
        const impl = Object.create(URLImpl.prototype);
        impl._url = record;
        impl[kGlobalObject] = globalObject;
        Object.defineProperty(wrapper, implSymbol, { value: impl, configurable: true });
        impl[wrapperSymbol] = wrapper;
        return wrapper;
      }
    }
    return setup(wrapper, globalObject, args, privateData);
  });
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
  addShortcuts();
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
