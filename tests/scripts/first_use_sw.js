// The service-worker form of tests/scripts/first_use.js's /count: the warm-up must never call a
// fetch listener either.
let calls = 0;
const seen = [];
addEventListener('fetch', (event) => {
  calls += 1;
  seen.push(event.request.url);
  event.respondWith(new Response(`calls ${calls} ${seen.join(' ')}`));
});
