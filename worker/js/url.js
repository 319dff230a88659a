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

// blob_urls.js: the blob URL store, loaded with URL (createObjectURL is a static method of
// URL) or by fetch() of a blob: URL.
export const blobUrls = lazyModule(() => require('./blob_urls.js'));

// whatwg-url's module: { URL, URLSearchParams, ... }, URL with createObjectURL and
// revokeObjectURL (blob_urls.js) added.
export const urlClasses = lazyModule(() => {
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
