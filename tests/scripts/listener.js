// Integration-test handler in service-worker form.
let served = 0;
addEventListener('fetch', (event) => {
  served += 1;
  if (event.request.url.endsWith('/throw')) throw new TypeError('listener failure');
  event.respondWith(new Response(`hello from listener ${served}\n`, {
    status: 200,
    headers: { 'content-type': 'text/plain' },
  }));
});
