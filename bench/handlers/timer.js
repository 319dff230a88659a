// bench/suite.sh handler: awaits a timer before answering "Hello World\n", so many
// requests wait inside one isolate at once. The wait is 5 ms, or ?ms=N (the memory
// phase holds requests with /hold?ms=2000). No URL global is assumed: the query is
// read with a regular expression.
export default {
  async fetch(request, env, ctx) {
    const match = /[?&]ms=(\d+)/.exec(request.url);
    const ms = match ? Number(match[1]) : 5;
    await new Promise((resolve) => setTimeout(resolve, ms));
    return new Response('Hello World\n', { headers: { 'content-type': 'text/plain' } });
  },
};
