// Integration-test handler in ES module form. Routes:
//   /            plain text
//   /echo        POST: echoes method, a header and the JSON body
//   /slow?ms=N   logs "slow-start", waits N ms on a timer, answers
//   /hold        parks until /release is called (proves interleaving in one isolate)
//   /release     resolves every parked /hold
//   /throw       throws; /bad returns a non-Response
import { greeting } from './lib/greeting.js';
import { hold, release } from './lib/parking.js';

export default {
  async fetch(request, env, ctx) {
    const url = request.url;
    const path = url.slice(url.indexOf('/', url.indexOf('//') + 2)).split('?')[0];
    const query = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
    switch (path) {
      case '/':
        return new Response(greeting('module') + '\n', { headers: { 'x-handler': 'module' } });
      case '/echo': {
        const body = await request.json();
        return Response.json({ method: request.method, test: request.headers.get('x-test'), body });
      }
      case '/slow': {
        const ms = Number(query.replace('ms=', '')) || 100;
        console.log('slow-start');
        await new Promise((resolve) => setTimeout(resolve, ms));
        return new Response('slow done\n');
      }
      case '/hold':
        return hold();
      case '/release':
        return release();
      case '/throw':
        throw new Error('deliberate failure');
      case '/bad':
        return 42;
      default:
        return new Response('not found\n', { status: 404 });
    }
  },
};
