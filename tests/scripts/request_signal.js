// Handlers for tests/request_signal_test.cc: an incoming request's signal, aborted when the
// supervisor cancels the request (its client left, or it ran out of time).
//   /wait-abort  logs "waiting <tag>", waits for request.signal's abort event, then logs
//                "aborted <tag> <reason name> <aborted>"; its answer never reaches anyone
//   /slow        answers "slow" after 200 ms (logs "slow started" first)
//   /ok          answers "ok <path>"
export default {
  async fetch(request) {
    const url = new URL(request.url);
    const tag = url.searchParams.get('tag') || '';
    if (url.pathname === '/wait-abort') {
      console.log(`waiting ${tag}`);
      const reason = await new Promise((resolve) => {
        request.signal.addEventListener('abort', () => resolve(request.signal.reason));
      });
      console.log(`aborted ${tag} ${reason.name} ${request.signal.aborted}`);
      return new Response('too late');
    }
    if (url.pathname === '/slow') {
      console.log('slow started');
      await new Promise((resolve) => setTimeout(resolve, 200));
      return new Response('slow');
    }
    return new Response(`ok ${url.pathname}`);
  },
};
