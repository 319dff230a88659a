// fetch() (https://fetch.spec.whatwg.org/#fetch-method): the request is checked and encoded
// here, then performed by the supervisor (worker/fetch_bindings.cc, ipc/protocol.h). The
// response body is a byte ReadableStream with a high-water mark of 0: each read pulls one chunk
// from the supervisor and credits it back, so the origin is only read as fast as the script
// reads, and at most one window of bytes waits in the worker.
import { AbortSignal, addAbortAlgorithm } from './abort.js';
import { kBody, takeBody } from './body.js';
import { Headers, kHeaderList } from './headers.js';
import { native } from './native.js';
import { kResponseState, Request, Response } from './request_response.js';
import { readAllBytes, ReadableStream } from './streams.js';
import { urlClasses } from './url.js';

const kRedirectModes = ['follow', 'manual', 'error'];
// A request body travels whole in one message (ipc/protocol.h, kFetchMaxRequestBodyBytes).
const kMaxRequestBodyBytes = 32 << 20;

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
// supervisor until the fetch times out: once the garbage collector finds its stream
// unreachable, the fetch is aborted. (The native side reports buffered chunks to V8 as external
// memory, so many unread bodies prompt that collection.) Made at the first fetch, so that a
// start-up snapshot of the runtime holds no registry.
let unreadBodiesRegistry = null;
function unreadBodies() {
  unreadBodiesRegistry ??= new FinalizationRegistry((id) => native.fetchAbort(id, undefined));
  return unreadBodiesRegistry;
}

function bodyStream(id) {
  let stream = null;
  const finish = () => unreadBodies().unregister(stream);
  stream = new ReadableStream({
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

function buildResponse(id, requestUrl, head) {
  const [status, statusText, flatHeaders, url, redirected] = head;
  const headers = new Headers();
  for (let i = 0; i < flatHeaders.length; i += 2) {
    headers[kHeaderList].push([flatHeaders[i].toLowerCase(), flatHeaders[i + 1]]);
  }
  const response = new Response(null, { headers, statusText });
  // The constructor only admits 200-599; a server's status is taken as it is.
  response.status = status;
  response[kBody] = bodyStream(id);
  // The supervisor reports the final URL and whether there were redirects, not every hop.
  response[kResponseState] = { type: 'basic', urlList: redirected ? [requestUrl, url] : [url] };
  return response;
}

// The request body as the native side takes it: null, a string or bytes. A stream is read
// whole first (request bodies are not streamed to the supervisor).
async function requestBody(request) {
  const body = takeBody(request);
  if (!(body instanceof ReadableStream)) return body;
  try {
    return await readAllBytes(body, kMaxRequestBodyBytes);
  } catch (error) {
    if (error instanceof RangeError) {
      throw new TypeError(`fetch(): the request body is longer than ${kMaxRequestBodyBytes} ` +
                          'bytes');
    }
    throw error;
  }
}

export async function fetch(input, init = undefined) {
  if (arguments.length < 1) throw new TypeError('fetch: 1 argument required');
  const options = init == null ? {} : init;
  const request = new Request(input, options);
  const redirect = String(options.redirect ?? request.redirect ?? 'follow');
  if (!kRedirectModes.includes(redirect)) {
    throw new TypeError(`fetch(): redirect must be one of ${kRedirectModes.join(', ')}, ` +
                        `got '${redirect}'`);
  }
  const signal = options.signal ?? request.signal ?? null;
  if (signal !== null && !(signal instanceof AbortSignal)) {
    throw new TypeError('fetch(): signal must be an AbortSignal');
  }
  const url = targetUrl(request.url);
  if (signal !== null && signal.aborted) throw signal.reason;
  const flat = [];
  for (const [name, value] of request.headers[kHeaderList]) flat.push(name, value);
  const body = await requestBody(request);
  if (signal !== null && signal.aborted) throw signal.reason;
  const [id, head] = native.fetchStart(request.method, url, flat, body, redirect);
  // Pending reads of the fetch reject with the signal's reason; a finished fetch ignores it.
  if (signal !== null) addAbortAlgorithm(signal, () => native.fetchAbort(id, signal.reason));
  return buildResponse(id, url, await head);
}
