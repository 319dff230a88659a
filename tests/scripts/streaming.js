// Streamed bodies (tests/streaming_test.cc): echo, whole-body reads and a body left unread.
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
