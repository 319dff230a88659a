// The called app of tests/service_binding_test.cc: answers what it was given, streams, fails,
// holds, and (/loop) calls the front app back through env.FRONT.
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    switch (url.pathname) {
      case '/hello':
        return new Response(`back saw ${request.method} ${url.pathname}${url.search}`, {
          status: 201,
          headers: { 'x-back': 'yes', 'x-seen': request.headers.get('x-test') ?? '' },
        });
      case '/echo': {
        const body = new Uint8Array(await request.arrayBuffer());
        return new Response(body, { headers: { 'x-length': String(body.byteLength) } });
      }
      case '/stream': {
        // 8 pieces of 64 KiB, more than one credit window, with pauses between them.
        const pieces = Number(url.searchParams.get('pieces') ?? 8);
        let sent = 0;
        return new Response(new ReadableStream({
          async pull(controller) {
            if (sent === pieces) return controller.close();
            if (sent > 0) await sleep(10);
            controller.enqueue(new Uint8Array(65536).fill(97 + (sent % 26)));
            sent++;
          },
        }));
      }
      case '/throw':
        throw new Error('back failed on purpose');
      case '/hold':
        await sleep(Number(url.searchParams.get('ms') ?? 1000));
        return new Response('held');
      case '/loop':
        try {
          return await env.FRONT.fetch('http://front.internal/loop');
        } catch (error) {
          return new Response(`back: ${error.message}`, { status: 508 });
        }
    }
    return new Response('no route', { status: 404 });
  },
};
