// For the lazy-globals test (tests/snapshot_test.cc): the streams, crypto.subtle and text stream
// globals are loaded on first use (worker/js/main.js), so in `context` isolation each request
// starts in a context where none is loaded yet, and first touches them inside the handler. Every
// answer says, in x-lazy, which of them were still unloaded when the handler began. The top level
// touches none, so the script is snapshotted too.
const kWatched = ['ReadableStream', 'SubtleCrypto', 'TextEncoderStream', 'CompressionStream'];

function stillLazy() {
  return kWatched.filter((name) =>
    typeof Object.getOwnPropertyDescriptor(globalThis, name).get === 'function').join();
}

function hex(buffer) {
  return [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export default {
  async fetch(request) {
    const headers = { 'x-lazy': stillLazy() };
    const path = request.url.slice(request.url.indexOf('/', 'http://'.length));
    if (path === '/echo') return new Response(request.body, { headers });
    // A body read whole loads nothing, even one that arrives in chunks.
    if (path === '/length') {
      return new Response(`${(await request.text()).length} ${stillLazy()}`, { headers });
    }
    if (path === '/stream') {
      const source = new ReadableStream({
        start(controller) {
          const same = globalThis.ReadableStream === ReadableStream;
          controller.enqueue(new TextEncoder().encode(`${typeof ReadableStream} ${same}`));
          controller.close();
        },
      });
      const text = source.pipeThrough(new TextDecoderStream());
      return new Response(text.pipeThrough(new TextEncoderStream()), { headers });
    }
    if (path === '/gzip') {
      const body = new Response('zipped').body.pipeThrough(new CompressionStream('gzip'));
      const back = body.pipeThrough(new DecompressionStream('gzip'));
      return new Response(await new Response(back).text(), { headers });
    }
    if (path === '/subtle') {
      const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode('abc'));
      const ok = crypto.subtle instanceof SubtleCrypto;
      return new Response(`${hex(digest).slice(0, 8)} ${ok}`, { headers });
    }
    return new Response('Hello World', { headers });
  },
};
