// The calling app of tests/service_binding_test.cc: every request is passed to the app bound as
// env.BACK (or env.BUSY for /busy/...), without the network, and its response returned as it
// came. A refused call answers 508 with the error's message.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const busy = url.pathname.startsWith('/busy/');
    const path = busy ? url.pathname.slice('/busy'.length) : url.pathname;
    const binding = busy ? env.BUSY : env.BACK;
    try {
      return await binding.fetch(`http://back.internal${path}${url.search}`, {
        method: request.method,
        headers: request.headers,
        body: request.body,
      });
    } catch (error) {
      return new Response(`front: ${error.message}`, { status: 508 });
    }
  },
};
