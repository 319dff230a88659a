// esbuild's --inject file (cmake/RuntimeBundle.cmake): bundled npm packages that name these
// globals get the runtime's classes instead. whatwg-url constructs a TextEncoder and TextDecoder
// when its module is evaluated, which may be before install() defines the globals or after a
// script replaced them. Our own modules import what they use and never see these bindings.
// bundle_url_global.js does the same for `URL`.
export { TextDecoder } from './encoding.js';
export { TextEncoder } from './short_text_encoder.js';
