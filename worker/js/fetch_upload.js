// Streamed request bodies of fetch() (ipc/protocol.h, FetchUpload): a body that is a stream, or
// bytes longer than one chunk, is sent after the FetchStart in pieces of at most
// kFetchMaxChunkBytes through native.fetchWrite, whose promise resolves once the supervisor's
// upload window has room. The stream is read only as fast as the origin takes the bytes, so
// neither the worker nor the supervisor ever holds more than one window of the body.
import { TextEncoder } from './encoding.js';
import { isReadableStream } from './streams.js';

// ipc/protocol.h kFetchMaxChunkBytes: the largest piece one fetchWrite takes.
export const kUploadChunkBytes = 64 << 10;

// Whether `body` (from takeBody: null, a string, an ArrayBuffer or a ReadableStream) is sent
// after the FetchStart rather than inside it. A string may be up to 3 bytes per code unit.
export function isStreamedBody(body) {
  if (body === null) return false;
  if (isReadableStream(body)) return true;
  if (typeof body === 'string') return body.length * 3 > kUploadChunkBytes &&
                                       new TextEncoder().encode(body).byteLength >
                                         kUploadChunkBytes;
  return body.byteLength > kUploadChunkBytes;
}

// Sends `bytes` (a Uint8Array) in pieces; false once the fetch wants no more.
async function writeBytes(native, id, bytes) {
  for (let offset = 0; offset < bytes.byteLength; offset += kUploadChunkBytes) {
    const piece = bytes.subarray(offset, Math.min(bytes.byteLength, offset + kUploadChunkBytes));
    if (!(await native.fetchWrite(id, piece))) return false;
  }
  return true;
}

// Sends the body of fetch `id` and ends it. Runs beside the wait for the response: a failed or
// aborted fetch rejects the pending write, which cancels the source stream; a source stream
// that errors aborts the fetch with its error (the response promise rejects with it).
export async function pumpUpload(native, id, body) {
  if (!isReadableStream(body)) {
    const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : new Uint8Array(body);
    try {
      if (await writeBytes(native, id, bytes)) native.fetchEnd(id);
    } catch {
      // The fetch failed or was aborted: its response promise says so.
    }
    return;
  }
  const reader = body.getReader();
  for (;;) {
    let result;
    try {
      result = await reader.read();
    } catch (error) {
      native.fetchAbort(id, error);
      return;
    }
    if (result.done) {
      native.fetchEnd(id);
      return;
    }
    const chunk = result.value;
    if (!(chunk instanceof Uint8Array)) {
      const error = new TypeError('fetch(): a request body stream must yield Uint8Arrays');
      reader.cancel(error).catch(() => {});
      native.fetchAbort(id, error);
      return;
    }
    let more;
    try {
      more = await writeBytes(native, id, chunk);
    } catch (error) {
      reader.cancel(error).catch(() => {});
      return;
    }
    if (!more) {
      reader.cancel().catch(() => {});
      return;
    }
  }
}
