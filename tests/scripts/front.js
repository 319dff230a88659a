// Handlers for tests/front_test.cc (the HTTP front against hostile clients). Every request that
// reaches the script logs "reached <host> <pathname>", so a test can tell whether a refused
// request got through.
//   /slow   answers "slow" after 300 ms (logs "slow started" first)
//   /headers?n=N  answers with N headers x-h-0 .. x-h-(N-1)
//   other   answers "ok <pathname>"
export default {
  async fetch(request) {
    const url = new URL(request.url);
    console.log(`reached ${url.host} ${url.pathname}`);
    if (url.pathname === '/slow') {
      console.log('slow started');
      await new Promise((resolve) => setTimeout(resolve, 300));
      return new Response('slow');
    }
    if (url.pathname === '/headers') {
      const headers = new Headers();
      const n = Number(url.searchParams.get('n'));
      for (let i = 0; i < n; i++) headers.set(`x-h-${i}`, 'v');
      return new Response('many', { headers });
    }
    return new Response(`ok ${url.pathname}`);
  },
};
