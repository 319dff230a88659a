// esbuild's --inject file for `URL` (cmake/RuntimeBundle.cmake): urlpattern-polyfill must parse
// with whatwg-url's URL even if a script replaces globalThis.URL. esbuild adds an import of this
// module to every bundled module, so it must not load whatwg-url itself (url.js loads it on
// first use, and whatwg-url's own modules import this one while it is being loaded): it exports
// a constructor that makes a whatwg-url URL. urlpattern-polyfill only ever calls `new URL(...)`,
// and a constructor that returns an object makes `new` give that object.
import { urlClasses } from './url.js';

export function URL(...args) {
  return new (urlClasses().URL)(...args);
}
