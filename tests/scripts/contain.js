// Handler for the containment tests (tests/containment_test.cc): one request that breaks a limit
// or reads a large body, while bystanders wait in the same context; and request lifetimes.
// Routes:
//   /park          parks until /release (logs "parked"), then answers "bystander ok"
//   /release       answers every parked request; "released N"
//   /text, /bytes, /json   read the request body whole; answer its length (json: of .data)
//   /loop          spins forever in the handler itself (cpu-limit)
//   /loop-later    awaits a timer, then spins forever in the promise job (cpu-limit)
//   /state         a global counter, "state N": it survives a contained limit
//   /timers?n=N    sets N timers of 600 s, then answers
//   /wait-until?ms=N   answers at once; waitUntil() work that sets a timer of N ms
//   /late-timer    answers, then (in a later job, no waitUntil) tries to set a timer
// scheduled(): sets 100 timers of 600 s and returns (a cron event ends like a request).
let counter = 0;
const parked = [];

function parse(url) {
  const target = url.slice(url.indexOf('/', url.indexOf('//') + 2));
  const [path, query = ''] = target.split('?');
  const params = Object.fromEntries(query.split('&').filter(Boolean).map((p) => p.split('=')));
  return { path, params };
}

export default {
  async fetch(request, env, ctx) {
    const { path, params } = parse(request.url);
    switch (path) {
      case '/park':
        console.log('parked');
        await new Promise((resolve) => parked.push(resolve));
        return new Response('bystander ok\n');
      case '/release': {
        const n = parked.length;
        parked.splice(0).forEach((resolve) => resolve());
        return new Response(`released ${n}\n`);
      }
      case '/text':
        return new Response(String((await request.text()).length));
      case '/bytes':
        return new Response(String((await request.arrayBuffer()).byteLength));
      case '/json':
        return new Response(String((await request.json()).data.length));
      case '/loop':
        for (;;) {}
      case '/loop-later':
        await new Promise((resolve) => setTimeout(resolve, 1));
        for (;;) {}
      case '/state':
        return new Response(`state ${++counter}\n`);
      case '/timers': {
        const n = Number(params.n || 1);
        for (let i = 0; i < n; ++i) setTimeout(() => console.log('timer fired'), 600000);
        return new Response(`set ${n}\n`);
      }
      case '/wait-until': {
        const ms = Number(params.ms || 1);
        ctx.waitUntil(new Promise((resolve) => setTimeout(() => {
          console.log('waitUntil timer fired');
          resolve();
        }, ms)));
        return new Response('answered\n');
      }
      case '/late-timer':
        Promise.resolve().then(() => Promise.resolve()).then(() => {
          try {
            setTimeout(() => console.log('late timer fired'), 1);
          } catch (error) {
            console.log('late timer threw');
          }
        });
        return new Response('answered\n');
      default:
        return new Response('not found\n', { status: 404 });
    }
  },
  scheduled() {
    for (let i = 0; i < 100; ++i) setTimeout(() => console.log('cron timer fired'), 600000);
  },
};
