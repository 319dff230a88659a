// UTF-8 for JWKs wrapped by crypto.subtle.wrapKey/unwrapKey, through the runtime's encoder.
import { native } from './native.js';

export function encodeUtf8(text) {
  return new Uint8Array(native.encodeUtf8(text));
}

export function decodeUtf8(bytes) {
  const [text] = native.decodeUtf8Chunk(bytes, true, false);
  return text;
}
