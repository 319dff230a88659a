// Global state for the isolation-mode tests. /count increments and returns a counter that lives
// as long as the context; /half sets a marker, then loops until the CPU limit ends it; /marker
// returns the marker (undefined unless the context that saw it was kept).
let count = 0;
let marker;

export default {
  async fetch(request) {
    const url = request.url;
    const path = url.slice(url.indexOf('/', url.indexOf('//') + 2)).split('?')[0];
    if (path === '/count') return new Response(String(++count));
    if (path === '/half') {
      marker = 'half-updated';
      for (;;) {}
    }
    if (path === '/marker') return new Response(String(marker));
    return new Response('not found', { status: 404 });
  },
};
