// Integration-test handler for bodies that are not plain strings. Routes:
//   /stream        a ReadableStream body in three chunks
//   /blob          a Blob body with its type
//   /form          POST: parses request.formData() and answers its entries as JSON
//   /form-out      a FormData body (multipart, the boundary in the content-type)
//   /upper         POST: request.body through TextDecoderStream, upper-cased, TextEncoderStream
//   /stream-error  a stream body that errors before its first chunk is read
//   /rewrap        a string Response's body stream passed on to a new Response
//   /stream-huge   a stream body of 49 MiB, more than one IPC message could hold
export default {
  async fetch(request) {
    const path = request.url.replace(/^[a-z]+:\/\/[^/]+/, '').split('?')[0];
    switch (path) {
      case '/stream': {
        const parts = ['one ', 'two ', 'three\n'];
        const body = new ReadableStream({
          pull(controller) {
            if (parts.length === 0) controller.close();
            else controller.enqueue(new TextEncoder().encode(parts.shift()));
          },
        });
        return new Response(body, { headers: { 'content-type': 'text/plain' } });
      }
      case '/blob':
        return new Response(new Blob(['blob ', 'body\n'], { type: 'Text/X-Blob' }));
      case '/form': {
        const form = await request.formData();
        const out = [];
        for (const [name, value] of form) {
          out.push(typeof value === 'string' ? [name, value] :
                   [name, { file: value.name, type: value.type, text: await value.text() }]);
        }
        return Response.json(out);
      }
      case '/form-out': {
        const form = new FormData();
        form.append('greeting', 'hi');
        return new Response(form);
      }
      case '/upper': {
        const upper = new TransformStream({
          transform(chunk, controller) { controller.enqueue(chunk.toUpperCase()); },
        });
        return new Response(request.body.pipeThrough(new TextDecoderStream()).pipeThrough(upper)
                                .pipeThrough(new TextEncoderStream()));
      }
      case '/stream-error':
        return new Response(new ReadableStream({
          start(controller) {
            controller.enqueue(new Uint8Array([0x61]));
            controller.error(new Error('the body stream broke'));
          },
        }));
      case '/rewrap': {
        const inner = new Response('rewrapped\n', { headers: { 'content-type': 'text/x-inner' } });
        return new Response(inner.body, inner);
      }
      case '/stream-huge': {
        let sent = 0;
        return new Response(new ReadableStream({
          pull(controller) {
            sent += 1;
            controller.enqueue(new Uint8Array(1 << 20));
            if (sent === 49) controller.close();
          },
        }));
      }
      default:
        return new Response('not found\n', { status: 404 });
    }
  },
};
