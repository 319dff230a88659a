// Storage used by top-level code (outside any request) is refused with a clear error; the
// worker keeps serving.
let topLevel = 'not run';
KV.get('k').then(() => { topLevel = 'resolved'; }, (error) => { topLevel = error.message; });

addEventListener('fetch', (event) => {
  event.respondWith(new Response(topLevel));
});
