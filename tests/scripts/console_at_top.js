// A top level that writes to the console: not safe to snapshot (every worker and, in `context`
// mode, every context must print the line), so the script is evaluated per context instead.
console.log('top level ran');
addEventListener('fetch', (event) => event.respondWith(new Response('served')));
