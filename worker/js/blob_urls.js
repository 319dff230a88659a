// URL.createObjectURL and URL.revokeObjectURL (File API, "blob URL store"): a Blob gets a
// `blob:null/<uuid>` URL that fetch() in the same context resolves to a response with the
// blob's bytes, until revoked. The store belongs to the context (each has its own copy of this
// module), so a URL made in one context means nothing in another, and the store goes with the
// context. The origin part is "null": a worker serves many origins and has none of its own.
import { Blob } from './blob.js';
import { native } from './native.js';
import { kResponseState, Response } from './request_response.js';

const store = new Map();  // URL without fragment -> Blob

function withoutFragment(url) {
  const hash = url.indexOf('#');
  return hash === -1 ? url : url.slice(0, hash);
}

export function createObjectURL(obj) {
  if (arguments.length < 1) throw new TypeError('URL.createObjectURL: 1 argument required');
  if (!(obj instanceof Blob)) {
    throw new TypeError('URL.createObjectURL: the argument must be a Blob or a File');
  }
  const url = `blob:null/${native.randomUUID()}`;
  store.set(url, obj);
  return url;
}

export function revokeObjectURL(url) {
  if (arguments.length < 1) throw new TypeError('URL.revokeObjectURL: 1 argument required');
  store.delete(withoutFragment(String(url)));
}

// Adds the two static methods to the URL class (url.js calls it when it loads the class).
export function addObjectURLMethods(URL) {
  for (const fn of [createObjectURL, revokeObjectURL]) {
    Object.defineProperty(URL, fn.name, { value: fn, writable: true, configurable: true,
                                          enumerable: true });
  }
}

// fetch() of a blob: URL (Fetch's "scheme fetch"): a GET gives the blob's bytes; anything else,
// or a URL not in the store, is a network error (a TypeError).
export function fetchBlobUrl(request) {
  const url = request.url;
  const blob = store.get(withoutFragment(url));
  if (request.method !== 'GET' || blob === undefined) {
    throw new TypeError(request.method !== 'GET' ?
      `fetch(): cannot ${request.method} '${url}': blob: URLs only take GET` :
      `fetch(): '${url}' is not a blob URL of this context (or it was revoked)`);
  }
  const headers = { 'content-length': String(blob.size) };
  if (blob.type !== '') headers['content-type'] = blob.type;
  const response = new Response(blob, { status: 200, headers });
  response[kResponseState] = { type: 'default', urlList: [url] };
  return response;
}
