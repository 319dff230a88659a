// Handler for the per-request limit tests (tests/limits_test.cc): routes that break the CPU,
// heap and stack limits, and routes that show whether state survived. Routes:
//   /ok              plain 200
//   /state           increments and returns a global counter ("state N"); it restarts at 1
//                    when the context is rebuilt
//   /loop            spins forever in the handler itself (cpu-limit)
//   /loop-with-job   queues a promise job that logs "zombie job ran", then spins forever: the
//                    job's effects must never be seen (in shared isolation the context is
//                    kept and the job runs, but nothing a stopped request does is logged)
//   /loop-later      awaits a timer, then spins forever in the continuation (cpu-limit after
//                    an await: the request is found through V8's continuation data)
//   /loop-in-timer   answers 200 at once, then spins forever in a setTimeout callback
//   /spin?ms=N       busy for N ms of wall time, then answers (under the limit when N is small)
//   /bomb            retains ever more memory in a global until the heap limit (memory-limit)
//   /recurse         unbounded recursion, uncaught (500 script-threw with a RangeError)
//   /recurse-caught  unbounded recursion, caught: 200 "caught RangeError"
//   /hold            parks until /release; logs "hold-parked"
//   /release         answers every parked /hold
import { hold, release } from './lib/parking.js';

let counter = 0;
const hoard = [];

// The runtime has no URL class; split the path and the query by hand.
function parse(url) {
  const target = url.slice(url.indexOf('/', url.indexOf('//') + 2));
  const [path, query = ''] = target.split('?');
  const params = Object.fromEntries(query.split('&').filter(Boolean).map((p) => p.split('=')));
  return { path, params };
}

function depth(n) {
  return depth(n + 1) + 1;
}

export default {
  async fetch(request) {
    const { path, params } = parse(request.url);
    counter++;
    switch (path) {
      case '/ok':
        return new Response('ok\n');
      case '/state':
        return new Response(`state ${counter}\n`);
      case '/loop':
        for (;;) {}
      case '/loop-with-job':
        Promise.resolve().then(() => console.log('zombie job ran'));
        for (;;) {}
      case '/loop-later':
        await new Promise((resolve) => setTimeout(resolve, 1));
        for (;;) {}
      case '/loop-in-timer':
        setTimeout(() => {
          for (;;) {}
        }, 1);
        return new Response('timer set\n');
      case '/spin': {
        const until = Date.now() + Number(params.ms || 1);
        while (Date.now() < until) {}
        return new Response('spun\n');
      }
      case '/bomb':
        for (;;) hoard.push(new Array(100000).fill(Math.random()));
      case '/recurse':
        return new Response(String(depth(0)));
      case '/recurse-caught':
        try {
          depth(0);
          return new Response('no error\n');
        } catch (e) {
          return new Response(`caught ${e.constructor.name}\n`);
        }
      case '/hold':
        console.log('hold-parked');
        return hold();
      case '/release':
        return release();
      default:
        return new Response('not found\n', { status: 404 });
    }
  },
};
