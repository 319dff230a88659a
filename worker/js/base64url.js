// base64url without padding (RFC 4648 §5), the encoding of every binary JWK member (RFC 7515
// §2). Decoding is strict: any other character, padding or an impossible length yields null.
const kAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const kValues = new Map([...kAlphabet].map((c, i) => [c, i]));

export function encodeBase64url(bytes) {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += kAlphabet[n >> 18] + kAlphabet[(n >> 12) & 63] + kAlphabet[(n >> 6) & 63] +
        kAlphabet[n & 63];
  }
  if (bytes.length - i === 1) {
    const n = bytes[i] << 16;
    out += kAlphabet[n >> 18] + kAlphabet[(n >> 12) & 63];
  } else if (bytes.length - i === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += kAlphabet[n >> 18] + kAlphabet[(n >> 12) & 63] + kAlphabet[(n >> 6) & 63];
  }
  return out;
}

export function decodeBase64url(text) {
  if (typeof text !== 'string' || text.length % 4 === 1) return null;
  const out = new Uint8Array(Math.floor(text.length * 3 / 4));
  let bits = 0;
  let value = 0;
  let j = 0;
  for (const c of text) {
    const v = kValues.get(c);
    if (v === undefined) return null;
    value = (value << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[j++] = (value >> bits) & 0xFF;
    }
  }
  // Leftover bits must be zero for a canonical encoding.
  if ((value & ((1 << bits) - 1)) !== 0) return null;
  return out;
}
