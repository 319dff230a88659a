// bench/suite.sh handler: the plainest answer, "Hello World\n" (text/plain).
// The same file runs unchanged in `isolated` and workerd; bench/handlers/node-http.js
// is its Node.js http port.
export default {
  async fetch(request, env, ctx) {
    return new Response('Hello World\n', { headers: { 'content-type': 'text/plain' } });
  },
};
