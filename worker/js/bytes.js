// Byte helpers shared by the body, Blob and stream code.

// One fresh Uint8Array holding `chunks` (Uint8Arrays) back to back; `total` is their length.
export function concatBytes(chunks, total) {
  const joined = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    joined.set(chunk, at);
    at += chunk.length;
  }
  return joined;
}
