// bench/kv.sh handler: one KV read per request through the whole path (worker -> supervisor
// -> SQLite on a storage thread -> back). POST /seed writes the 100-byte value first.
const kValue = 'v'.repeat(100);

export default {
  async fetch(request, env) {
    if (request.method === 'POST') {
      await env.KV.put('k', kValue);
      return new Response('seeded\n');
    }
    const value = await env.KV.get('k');
    if (value === null) return new Response('not seeded\n', { status: 500 });
    return new Response(value);
  },
};
