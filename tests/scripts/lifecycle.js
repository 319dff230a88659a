// Integration-test handler for the request lifecycle (ES module). Routes:
//   /env              the env object as JSON
//   /wait?ms=N        answers at once; ctx.waitUntil() sets `background` after N ms
//   /background       the value of `background`
//   /wait-log?ms=N    answers at once; ctx.waitUntil() logs "background-finished" after N ms
//   /wait-reject      ctx.waitUntil() of a promise that rejects with "background-boom"
//   /concurrency      awaits a 200 ms timer while counting handlers in progress
//   /max              the highest count /concurrency observed
//   /scheduled        what the last scheduled event saw, as JSON
// scheduled(): records the event; for the cron "0 0 1 1 *" it throws "scheduled-boom".
let background = 'unset';
let active = 0;
let maxActive = 0;
let lastScheduled = null;
let scheduledCount = 0;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export default {
  async fetch(request, env, ctx) {
    const url = request.url;
    const path = url.slice(url.indexOf('/', url.indexOf('//') + 2)).split('?')[0];
    const match = /[?&]ms=(\d+)/.exec(url);
    const ms = match ? Number(match[1]) : 100;
    switch (path) {
      case '/env':
        return Response.json(env);
      case '/wait':
        background = 'pending';
        ctx.waitUntil(sleep(ms).then(() => {
          background = 'done';
        }));
        return new Response('answered\n');
      case '/background':
        return new Response(background);
      case '/wait-log':
        ctx.waitUntil(sleep(ms).then(() => console.log('background-finished')));
        return new Response('answered\n');
      case '/wait-reject':
        ctx.waitUntil(sleep(10).then(() => {
          throw new Error('background-boom');
        }));
        return new Response('answered\n');
      case '/concurrency':
        active += 1;
        maxActive = Math.max(maxActive, active);
        await sleep(200);
        active -= 1;
        return new Response('ok');
      case '/max':
        return new Response(String(maxActive));
      case '/scheduled':
        return Response.json({ count: scheduledCount, last: lastScheduled });
      default:
        return new Response('not found', { status: 404 });
    }
  },
  async scheduled(event, env, ctx) {
    if (event.cron === '0 0 1 1 *') throw new Error('scheduled-boom');
    await sleep(1);
    scheduledCount += 1;
    lastScheduled = { cron: event.cron, scheduledTime: event.scheduledTime, type: event.type,
                      hasWaitUntil: typeof ctx.waitUntil === 'function', greeting: env.GREETING };
  },
};
