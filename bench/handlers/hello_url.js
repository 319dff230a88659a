// bench/worker_path.sh handler: hello world that routes the way real scripts do, with
// `new URL(request.url)`; compared with hello_plain.js it shows what the URL costs.
export default {
  fetch(request) {
    const url = new URL(request.url);
    return new Response('hi ' + url.pathname);
  },
};
