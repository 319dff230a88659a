// Integration-test handler for outbound fetch() (tests/fetch_test.cc). Each route takes the
// URL to fetch in `?url=` (percent-encoded) and answers JSON describing what fetch() gave:
//   /get          fetch(url); status, statusText, headers, body, url, redirected
//   /post         POST JSON with headers to url (an /echo route); the parsed JSON answer
//   /redirect     fetch(url, {redirect: ?mode}); status, location, body, redirected, url
//                 (&via=request: fetch(new Request(url, {redirect: ?mode})))
//   /count        streams the body through a reader and counts its bytes
//   /many         ?n fetches of url one after another; how many succeeded, the first error
//   /abort-head   aborts (AbortController) 100 ms after fetch() is called; the rejection
//                 (&via=request: the signal is given to a Request, not to fetch())
//   /abort-body   aborts while a body read is pending; the rejection
//   /abort-default  an already-aborted signal; /timeout AbortSignal.timeout(100)
//   /bad-signal   a signal that is not an AbortSignal
//   /hang         awaits the whole body of url (which never ends); logs how the fetch ended
//   /scheme       fetch() of a non-HTTP URL; the rejection
//   /proxy        returns fetch(url) itself as the handler's response
//   /lazy         reads fetch(url)'s body whole; whether the streams ponyfill (loaded on first
//                 use) was loaded before and after, the body, bodyUsed
//   /method       fetch(url, {method: ?method}) with a body unless GET/HEAD; status, body
//   /request      fetch(new Request(url, {method: 'PUT', headers, body})); the answer
//   /streams      the body is a ReadableStream; clone() tees it; a fetched body as the body of
//                 another fetch (POST to url, an /echo route); waitUntil(fetch(...)) after
//                 the response
//   /spin         starts fetch(url), then spins past the CPU limit (the context is rebuilt)
//   /ignore       fetch(url), the body left unread
//   /garbage      allocates and drops ?mb megabytes of short-lived objects
//   /upload       POSTs a generated stream of ?mb MiB (byte k is k % 251, one 64 KiB chunk per
//                 pull) to url (an /upload-check route); the origin's answer and the pull count.
//                 With ?reuse=1 every pull refills one buffer (fetch() has copied the previous
//                 chunk before it pulls again), so the producer's own garbage does not hide
//                 what the upload path holds
//   /upload-stall POSTs a generated 48 MiB stream to url (a /hold-upload route, which reads
//                 nothing until ?release is fetched); the pull count once pulls have stopped,
//                 then releases the origin and answers its reply too
//   /upload-abort POSTs an endless stream to url and aborts after 8 pulls; the rejection,
//                 whether the source was cancelled, and the pulls
//   /upload-big   POSTs ?kb KiB of known bytes (streamed: longer than one chunk) to url
// A rejected fetch() answers 502 with {name, message}.
function params(url) {
  const out = {};
  const query = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    if (eq > 0) out[pair.slice(0, eq)] = decodeURIComponent(pair.slice(eq + 1));
  }
  return out;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A stream of `total` bytes where byte k is k % 251, one 64 KiB chunk per pull; `state.pulls`
// counts the pulls and `state.cancelled` records a cancel.
function patternStream(total, state, reuse = false) {
  let offset = 0;
  const shared = reuse ? new Uint8Array(65536) : null;
  return new ReadableStream({
    pull(controller) {
      state.pulls += 1;
      const size = Math.min(65536, total - offset);
      const chunk = shared !== null && size === 65536 ? shared : new Uint8Array(size);
      for (let i = 0; i < size; i++) chunk[i] = (offset + i) % 251;
      offset += size;
      controller.enqueue(chunk);
      if (offset >= total) controller.close();
    },
    cancel(reason) {
      state.cancelled = true;
      state.reason = reason && reason.message;
    },
  }, { highWaterMark: 0 });
}

function failure(error) {
  return Response.json({ name: error && error.name, message: error && error.message },
                       { status: 502 });
}

async function route(path, q, ctx) {
  switch (path) {
    case '/get': {
      const r = await fetch(q.url);
      const headers = {};
      for (const [k, v] of r.headers) headers[k] = v;
      return Response.json({ status: r.status, statusText: r.statusText, ok: r.ok, headers,
                             body: await r.text(), url: r.url, redirected: r.redirected });
    }
    case '/post': {
      const r = await fetch(q.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-test': 'fetch' },
        body: JSON.stringify({ n: [1, 2, 3], s: 'h\u00e9llo' }),
      });
      return Response.json({ status: r.status, answer: await r.json() });
    }
    case '/redirect': {
      const init = { redirect: q.mode, method: q.method || 'GET',
                     body: q.method === 'POST' ? 'payload' : undefined };
      // via=request: the mode travels in a Request object, not in fetch()'s init.
      const r = q.via === 'request' ? await fetch(new Request(q.url, init)) :
                                      await fetch(q.url, init);
      return Response.json({ status: r.status, location: r.headers.get('location'),
                             body: await r.text(), redirected: r.redirected, url: r.url });
    }
    case '/count': {
      const r = await fetch(q.url);
      const reader = r.body.getReader();
      let bytes = 0;
      let chunks = 0;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        bytes += value.byteLength;
        chunks += 1;
      }
      return Response.json({ status: r.status, bytes, chunks });
    }
    case '/many': {
      let ok = 0;
      let error = null;
      for (let i = 0; i < Number(q.n); i++) {
        try {
          await (await fetch(q.url)).text();
          ok += 1;
        } catch (e) {
          if (error === null) error = { name: e.name, message: e.message };
        }
      }
      return Response.json({ ok, error });
    }
    case '/abort-head': {
      const controller = new AbortController();
      const reason = new Error('stop waiting');
      setTimeout(() => controller.abort(reason), 100);
      try {
        // via=request: the signal travels in a Request object, not in fetch()'s init.
        if (q.via === 'request') await fetch(new Request(q.url, { signal: controller.signal }));
        else await fetch(q.url, { signal: controller.signal });
        return Response.json({ aborted: false });
      } catch (e) {
        return Response.json({ aborted: true, same: e === reason, message: e.message });
      }
    }
    case '/upload': {
      const state = { pulls: 0 };
      const r = await fetch(q.url, { method: 'POST',
                                     body: patternStream(Number(q.mb) << 20, state,
                                                         q.reuse === '1') });
      return Response.json({ status: r.status, origin: await r.json(), pulls: state.pulls });
    }
    case '/upload-stall': {
      const state = { pulls: 0 };
      const pending = fetch(q.url, { method: 'POST', body: patternStream(48 << 20, state) });
      // Wait until the producer has stopped: the origin reads nothing, so the buffers between
      // (credit windows, socket buffers) fill and the pulls stop.
      let last = -1;
      while (state.pulls !== last) {
        last = state.pulls;
        await sleep(500);
      }
      const stalled = state.pulls;
      await (await fetch(q.release)).text();
      const r = await pending;
      return Response.json({ stalled, pulls: state.pulls, origin: await r.json() });
    }
    case '/upload-abort': {
      const state = { pulls: 0 };
      const controller = new AbortController();
      let abortAfter;
      const reached = new Promise((resolve) => { abortAfter = resolve; });
      const body = new ReadableStream({
        pull(c) {
          state.pulls += 1;
          if (state.pulls === 8) abortAfter();
          c.enqueue(new Uint8Array(65536));
        },
        cancel() { state.cancelled = true; },
      }, { highWaterMark: 0 });
      const pending = fetch(q.url, { method: 'POST', body, signal: controller.signal });
      await reached;
      controller.abort(new Error('upload aborted'));
      let error = null;
      try {
        await pending;
      } catch (e) {
        error = e;
      }
      await sleep(100);  // a pull that was under way may still finish
      const pullsAfterAbort = state.pulls;
      await sleep(200);
      return Response.json({ rejected: error !== null, message: error && error.message,
                             cancelled: state.cancelled === true,
                             moreAfterAbort: state.pulls - pullsAfterAbort });
    }
    case '/upload-big': {
      const bytes = new Uint8Array(Number(q.kb) * 1024);
      for (let i = 0; i < bytes.length; i++) bytes[i] = i % 251;
      const r = await fetch(q.url, { method: 'PUT', body: new Blob([bytes]),
                                     headers: { 'content-length': String(bytes.length) } });
      return Response.json({ status: r.status, origin: await r.json() });
    }
    case '/abort-body': {
      const controller = new AbortController();
      const r = await fetch(q.url, { signal: controller.signal });
      const reader = r.body.getReader();
      const first = await reader.read();
      const pending = reader.read();
      await sleep(50);
      controller.abort(new Error('body aborted'));
      try {
        await pending;
        return Response.json({ aborted: false });
      } catch (e) {
        return Response.json({ aborted: true, first: first.value.byteLength, message: e.message });
      }
    }
    case '/hang': {
      console.log('hang-start');
      fetch(q.url).then((r) => r.text()).then(
          () => console.log('hang-fetch ended: completed'),
          (e) => console.log(`hang-fetch ended: ${e.name}: ${e.message}`));
      await sleep(60000);
      return new Response('late');
    }
    case '/spin': {
      fetch(q.url).catch(() => {});
      await sleep(50);
      for (;;) {}
    }
    case '/ignore': {
      const r = await fetch(q.url);
      return Response.json({ status: r.status });
    }
    case '/garbage': {
      let kept = [];
      for (let i = 0; i < Number(q.mb); i++) {
        kept.push(new Array(128 * 1024).fill(i));
        if (kept.length > 16) kept = [];
      }
      return Response.json({ done: true });
    }
    case '/abort-default': {
      // Already aborted, with no reason given: the AbortError DOMException.
      try {
        await fetch(q.url, { signal: AbortSignal.abort() });
        return Response.json({ aborted: false });
      } catch (e) {
        return Response.json({ aborted: true, name: e.name, isDOMException: e instanceof DOMException });
      }
    }
    case '/timeout': {
      try {
        await fetch(q.url, { signal: AbortSignal.timeout(100) });
        return Response.json({ aborted: false });
      } catch (e) {
        return Response.json({ aborted: true, name: e.name });
      }
    }
    case '/bad-signal':
      await fetch(q.url, { signal: { aborted: false } });
      return Response.json({ fetched: true });
    case '/lazy': {
      const loaded = () =>
        typeof Object.getOwnPropertyDescriptor(globalThis, 'ReadableStream').get !== 'function';
      const before = loaded();
      const r = await fetch(q.url);
      const body = await r.text();
      return Response.json({ before, after: loaded(), body, bodyUsed: r.bodyUsed });
    }
    case '/proxy':
      return fetch(q.url);
    case '/method': {
      const hasBody = q.method !== 'GET' && q.method !== 'HEAD';
      const r = await fetch(q.url, { method: q.method, body: hasBody ? `body of ${q.method}` : null });
      return Response.json({ status: r.status, length: r.headers.get('content-length'),
                             body: await r.text() });
    }
    case '/request': {
      const request = new Request(q.url, { method: 'PUT', headers: { 'x-from': 'request' },
                                           body: new Uint8Array([104, 105]) });
      const r = await fetch(request);
      return Response.json({ status: r.status, answer: await r.json() });
    }
    case '/streams': {
      const first = await fetch(q.hello);
      const isStream = first.body instanceof ReadableStream;
      const copy = first.clone();
      const [a, b] = [await first.text(), await copy.text()];
      const relayed = await fetch(q.url, { method: 'POST', body: (await fetch(q.hello)).body,
                                           duplex: 'half' });
      const echoed = await relayed.json();
      const utf8 = await (await fetch(q.hello)).body.pipeThrough(new TextDecoderStream())
          .getReader().read();
      return Response.json({ isStream, a, b, relayed: echoed.body, decoded: utf8.value });
    }
    case '/wait-until': {
      ctx.waitUntil(fetch(q.url).then((r) => r.text()).then(
          (text) => console.log(`waitUntil fetch got: ${text}`),
          (e) => console.log(`waitUntil fetch failed: ${e.message}`)));
      return new Response('answered first');
    }
    case '/scheme':
      await fetch(q.url);
      return Response.json({ fetched: true });
    default:
      return new Response('not found\n', { status: 404 });
  }
}

export default {
  async fetch(request, env, ctx) {
    const url = request.url;
    const path = url.slice(url.indexOf('/', url.indexOf('//') + 2)).split('?')[0];
    try {
      return await route(path, params(url), ctx);
    } catch (error) {
      return failure(error);
    }
  },
};
