// The platform example's JSON API, configured entirely through env: a string var (SERVICE),
// JSON vars (LIMITS, FEATURES) and a secret (API_TOKEN) that callers must present.
export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (pathname === '/api/health') return Response.json({ ok: true, service: env.SERVICE });
    if (request.headers.get('authorization') !== `Bearer ${env.API_TOKEN}`) {
      return Response.json({ error: 'unauthorized' }, { status: 401 });
    }
    if (pathname === '/api/config') {
      return Response.json({ service: env.SERVICE, limits: env.LIMITS, features: env.FEATURES });
    }
    return Response.json({ error: 'not found', path: pathname }, { status: 404 });
  },
};
