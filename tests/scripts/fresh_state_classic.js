// fresh_state.js as a classic (service-worker syntax) script.
let count = 0;

addEventListener('fetch', (event) => {
  event.respondWith(Response.json({
    count: ++count,
    timeOrigin: performance.timeOrigin,
    random: Math.random(),
    uuid: crypto.randomUUID(),
    builtins: [typeof Request, typeof TextEncoder, typeof structuredClone, typeof atob].join(),
  }));
});
