// Integration-test handler for the lifecycle in service-worker syntax: bindings are globals,
// event.waitUntil keeps work alive, and a scheduled listener records what it saw.
let lastCron = 'none';
let background = 'unset';

addEventListener('fetch', (event) => {
  const path = event.request.url.slice(event.request.url.indexOf('/', 8));
  if (path === '/globals') {
    event.respondWith(Response.json({
      GREETING: typeof GREETING === 'undefined' ? null : GREETING,
      API_KEY: typeof API_KEY === 'undefined' ? null : API_KEY,
      LIMITS: typeof LIMITS === 'undefined' ? null : LIMITS,
    }));
  } else if (path === '/wait') {
    event.waitUntil(new Promise((resolve) => setTimeout(resolve, 50)).then(() => {
      background = 'done';
    }));
    event.respondWith(new Response('answered'));
  } else if (path === '/background') {
    event.respondWith(new Response(background));
  } else {
    event.respondWith(new Response(lastCron));
  }
});

addEventListener('scheduled', (event) => {
  event.waitUntil(Promise.resolve().then(() => {
    lastCron = `${event.type} ${event.cron} ${typeof event.scheduledTime}`;
  }));
});
