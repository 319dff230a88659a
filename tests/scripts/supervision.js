// Handler for the supervision tests. Routes:
//   /ok             plain 200
//   /leak?mb=N      retains N MB more (ArrayBuffers, outside the V8 heap) for the worker's life
//   /slow?ms=N      logs "slow-start", answers after N ms
//   /hold, /release park and release requests
import { hold, release } from './lib/parking.js';
const retained = [];

function param(url, name, fallback) {
  const match = new RegExp(`[?&]${name}=(\\d+)`).exec(url);
  return match ? Number(match[1]) : fallback;
}

export default {
  async fetch(request) {
    const url = request.url;
    const path = url.slice(url.indexOf('/', url.indexOf('//') + 2)).split('?')[0];
    switch (path) {
      case '/ok':
        return new Response('ok\n');
      case '/leak': {
        const mb = param(url, 'mb', 1);
        const block = new Uint8Array(mb << 20);
        block.fill(7);  // Touch every page so that it counts in RSS.
        retained.push(block);
        return new Response(`retained ${retained.length}\n`);
      }
      case '/slow': {
        console.log('slow-start');
        await new Promise((resolve) => setTimeout(resolve, param(url, 'ms', 100)));
        return new Response('slow done\n');
      }
      case '/hold':
        return hold();
      case '/release':
        return release();
      default:
        return new Response('not found\n', { status: 404 });
    }
  },
};
