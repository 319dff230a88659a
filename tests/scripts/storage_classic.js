// Service-worker syntax: storage bindings are globals (and in the global `env` an OpenWorkers
// script expects, when the runtime provides one).
addEventListener('fetch', (event) => {
  event.respondWith((async () => {
    await KV.put('classic', 'from a global binding');
    return new Response(await KV.get('classic'));
  })());
});
