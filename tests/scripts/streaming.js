// Streamed bodies (tests/streaming_test.cc): echo, whole-body reads and a body left unread.
// Bytes the /counted-echo handlers have pulled from their request bodies, in all.
let pulled = 0;

function path(request) {
  return request.url.replace(/^https?:\/\/[^/]+/, '').split('?')[0];
}

export default {
  async fetch(request) {
    switch (path(request)) {
      case '/echo':
        return new Response(request.body);
      case '/echo-length': {
        // Streams back with the length the client declared.
        const headers = { 'content-length': request.headers.get('content-length') };
        return new Response(request.body, { headers });
      }
      case '/wrong-length':
        // Declares one byte more than it streams back.
        return new Response(request.body, {
          headers: { 'content-length': String(Number(request.headers.get('content-length')) + 1) },
        });
      case '/counted-echo': {
        // An echo through a stream of the script's own that counts what it pulls.
        const reader = request.body.getReader();
        return new Response(new ReadableStream({
          async pull(controller) {
            const { value, done } = await reader.read();
            if (done) {
              controller.close();
            } else {
              pulled += value.byteLength;
              controller.enqueue(value);
            }
          },
        }, { highWaterMark: 0 }), {
          headers: { 'content-length': request.headers.get('content-length') },
        });
      }
      case '/pulled':
        return Response.json({ pulled });
      case '/text':
        return new Response(await request.text());
      case '/length':
        return Response.json({ length: (await request.arrayBuffer()).byteLength,
                               framing: request.headers.get('transfer-encoding') ||
                                        request.headers.get('content-length') });
      case '/ignore':
        return new Response('ignored');
      default:
        return new Response('not found', { status: 404 });
    }
  },
};
