// fetch() (https://fetch.spec.whatwg.org/#fetch-method): the request is checked and encoded
// here, then performed by the supervisor (worker/fetch_bindings.cc, ipc/protocol.h). The
// response body is a byte ReadableStream with a high-water mark of 0: each read pulls one chunk
// from the supervisor and credits it back, so the origin is only read as fast as the script
// reads, and at most one window of bytes waits in the worker. A request body that is a stream
// or longer than one chunk is streamed the other way (./fetch_upload.js).
import { addAbortAlgorithm } from './abort.js';
import { kBody, takeBody } from './body.js';
import { ChunkedBody } from './body_stream.js';
import { Headers, kHeaderList } from './headers.js';
import { isStreamedBody, pumpUpload } from './fetch_upload.js';
import { native } from './native.js';
import { followedSignal, kResponseState, Request, Response } from './request_response.js';
import { streamClasses } from './streams.js';
import { blobUrls, urlClasses } from './url.js';

// The absolute http(s) URL to fetch, or a TypeError that says why not.
function targetUrl(text) {
  let url;
  try {
    url = new (urlClasses().URL)(text);
  } catch {
    throw new TypeError(`fetch(): '${text}' is not a valid absolute URL`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new TypeError(`fetch(): the URL '${text}' includes credentials`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`fetch(): cannot fetch '${text}': only http: and https: URLs are ` +
                        'supported');
  }
  return url.href;
}

// A body dropped unread would keep its chunks in the worker and its transfer paused in the
// supervisor until the fetch times out: once the garbage collector finds its FetchBody (or,
// once a script asked for it, its stream) unreachable, the fetch is aborted. (The native side
// reports buffered chunks to V8 as external memory, so many unread bodies prompt that
// collection.) Made at the first fetch, so that a
// start-up snapshot of the runtime holds no registry.
let unreadBodiesRegistry = null;
function unreadBodies() {
  unreadBodiesRegistry ??= new FinalizationRegistry((id) => native.fetchAbort(id, undefined));
  return unreadBodiesRegistry;
}

function bodyStream(id) {
  let stream = null;
  const finish = () => unreadBodies().unregister(stream);
  stream = new (streamClasses().ReadableStream)({
    type: 'bytes',
    async pull(controller) {
      let chunk;
      try {
        chunk = await native.fetchRead(id);
      } catch (error) {
        finish();
        throw error;  // errors the stream: the read rejects with the fetch's TypeError
      }
      if (chunk === null) {
        finish();
        controller.close();
        // A BYOB read pending at the end must be answered with zero bytes.
        if (controller.byobRequest) controller.byobRequest.respond(0);
        return;
      }
      controller.enqueue(chunk);
    },
    cancel(reason) {
      finish();
      native.fetchAbort(id, reason);
    },
  }, { highWaterMark: 0 });
  unreadBodies().register(stream, id, stream);
  return stream;
}

// A fetch response's body, read chunk by chunk (each read pulls one chunk from the supervisor)
// until a script asks for its stream (body.js, body_stream.js).
class FetchBody extends ChunkedBody {
  constructor(id) {
    super();
    this.id = id;
    unreadBodies().register(this, id, this);
  }
  async read() {
    let chunk;
    try {
      chunk = await native.fetchRead(this.id);
    } catch (error) {
      unreadBodies().unregister(this);
      throw error;  // the fetch's TypeError
    }
    if (chunk === null) unreadBodies().unregister(this);
    return chunk;
  }
  toStream() {
    unreadBodies().unregister(this);
    return bodyStream(this.id);
  }
}

function buildResponse(id, requestUrl, head) {
  const [status, statusText, flatHeaders, url, redirected] = head;
  const headers = new Headers();
  for (let i = 0; i < flatHeaders.length; i += 2) {
    headers[kHeaderList].push([flatHeaders[i].toLowerCase(), flatHeaders[i + 1]]);
  }
  const response = new Response(null, { headers, statusText });
  // The constructor only admits 200-599; a server's status is taken as it is.
  response.status = status;
  response[kBody] = new FetchBody(id);
  // The supervisor reports the final URL and whether there were redirects, not every hop.
  response[kResponseState] = { type: 'basic', urlList: redirected ? [requestUrl, url] : [url] };
  return response;
}

export async function fetch(input, init = undefined) {
  if (arguments.length < 1) throw new TypeError('fetch: 1 argument required');
  return fetchThrough(undefined, input, init);
}

// fetch() through the service binding named `service` (another app of the server, reached
// without the network; ipc/protocol.h rule 26), or over the network when it is undefined.
export async function fetchThrough(service, input, init) {
  // The Request checks init (redirect, signal and the rest) and takes over input's redirect mode
  // and signal when input is a Request.
  const request = new Request(input, init == null ? {} : init);
  const redirect = request.redirect;
  const signal = followedSignal(request);
  if (signal !== null && signal.aborted) throw signal.reason;
  if (service === undefined && request.url.startsWith('blob:')) {
    return blobUrls().fetchBlobUrl(request);
  }
  const url = targetUrl(request.url);
  const flat = [];
  for (const [name, value] of request.headers[kHeaderList]) flat.push(name, value);
  // null, a string, an ArrayBuffer or a ReadableStream; the small ones ride in the FetchStart.
  let body = takeBody(request);
  // A body still arriving (an incoming request's, passed on) is uploaded through its stream.
  if (body instanceof ChunkedBody) body = body.toStream();
  const streamed = isStreamedBody(body);
  const [id, head] = native.fetchStart(request.method, url, flat, streamed ? null : body,
                                       redirect, streamed, service);
  // Pending reads and writes of the fetch reject with the signal's reason (so an abort stops
  // both directions); a finished fetch ignores it.
  if (signal !== null) addAbortAlgorithm(signal, () => native.fetchAbort(id, signal.reason));
  if (streamed) pumpUpload(native, id, body);
  return buildResponse(id, url, await head);
}
