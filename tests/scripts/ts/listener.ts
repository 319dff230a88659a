// Service-worker syntax in TypeScript, with OpenWorkers' global `env` and Cloudflare's
// per-binding globals.
declare const env: { GREETING: string; TOKEN: string };
declare const GREETING: string;

addEventListener('fetch', (event: FetchEvent) => {
  const body = JSON.stringify({ env: env.GREETING, token: env.TOKEN, global: GREETING,
                                same: (globalThis as any).env === env });
  event.respondWith(new Response(body, { headers: { 'content-type': 'application/json' } }));
});
