// The smallest Workers-style handler: `isolated serve examples/hello.js`.
export default {
  async fetch(request, env, ctx) {
    return new Response('Hello World\n', { headers: { 'content-type': 'text/plain' } });
  },
};
