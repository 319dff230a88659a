// The same idea in service-worker syntax: addEventListener('fetch') and event.respondWith().
let requests = 0;  // Lives as long as the worker's isolate: state persists across requests.

addEventListener('fetch', (event) => {
  requests += 1;
  event.respondWith(handle(event.request));
});

async function handle(request) {
  if (request.method === 'POST') {
    return Response.json({ received: await request.json(), requests });
  }
  return new Response(`request ${requests} served by this isolate\n`);
}
