// JWK helpers for the crypto.subtle tests.
import { fromHex } from './subtle_helpers.js';

export function encodeHexAsBase64url(hex) {
  return btoa(String.fromCharCode(...fromHex(hex)))
      .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
