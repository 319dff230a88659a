// esbuild's --inject file (cmake/RuntimeBundle.cmake): bundled npm packages that name these
// globals get the runtime's classes instead. whatwg-url constructs a TextEncoder and TextDecoder
// while the bundle is evaluated, before install() defines the globals, and urlpattern-polyfill
// must parse with whatwg-url's URL even if a script replaces globalThis.URL. Our own modules
// import what they use and never see these bindings.
export { TextDecoder } from './encoding.js';
export { TextEncoder } from './short_text_encoder.js';
export { URL } from './url.js';
