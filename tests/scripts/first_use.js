// Handler for tests/first_use_test.cc: what an app's first requests pay for the runtime's own
// first-use work (the warm-up of a context, a runtime module's first load). Routes:
//   /count          how many times this handler ran ("calls N") and every URL it saw: the
//                   warm-up must never call it
//   /url            parses its URL, as most handlers do first (whatwg-url, warmed up)
//   /streams?spin=N touches ReadableStream, whose module then loads; during the load the
//                   runtime calls Object.getOwnPropertyDescriptor (worker/js/streams.js), which
//                   this script patched to spin for N ms of wall time ("forever": never stop)
//   /ok             plain 200, no stream
const originalDescriptor = Object.getOwnPropertyDescriptor;
let spin = null;
Object.getOwnPropertyDescriptor = function (...args) {
  if (spin !== null) {
    const until = spin === 'forever' ? Infinity : Date.now() + Number(spin);
    spin = null;
    while (Date.now() < until) {
      // busy: the runtime's work is running this script's code
    }
  }
  return originalDescriptor.apply(this, args);
};

let calls = 0;
const seen = [];

export default {
  fetch(request) {
    calls += 1;
    seen.push(request.url);
    const target = request.url.slice(request.url.indexOf('/', request.url.indexOf('//') + 2));
    const [path, query = ''] = target.split('?');
    if (path === '/count') return new Response(`calls ${calls} ${seen.join(' ')}`);
    if (path === '/url') return new Response(new URL(request.url).pathname);
    if (path === '/streams') {
      spin = query.startsWith('spin=') ? query.slice('spin='.length) : null;
      const kind = typeof ReadableStream;
      spin = null;
      return new Response(`ReadableStream is a ${kind}`);
    }
    return new Response('ok');
  },
};
