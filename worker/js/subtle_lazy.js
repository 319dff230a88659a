// crypto.subtle's modules (subtle.js and the per-algorithm handlers it imports), loaded on first
// use: SubtleCrypto, CryptoKey and crypto.subtle are lazy (main.js, platform_objects.js), so a
// context made from the startup snapshot that never uses Web Crypto never deserialises their
// classes and functions (url.js explains the mechanism).
import { lazyModule } from './lazy_module.js';

// subtle.js's module: { SubtleCrypto, CryptoKey, makeSubtle }.
export const subtleModule = lazyModule(() => require('./subtle.js'));
