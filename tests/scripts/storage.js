// The storage bindings through HTTP, for tests/storage_test.cc: each route performs one
// operation on env.KV, env.DB or env.BUCKET and answers JSON; a rejection answers 500 with
// {error}.
function json(value, status = 200) {
  return new Response(JSON.stringify(value), {
    status, headers: { 'content-type': 'application/json' },
  });
}

// Released by /kv/release: waitUntil() work of /kv/held waits for it.
let release;
const held = new Promise((resolve) => {
  release = resolve;
});

async function kv(env, url, request, ctx) {
  const key = url.searchParams.get('k');
  switch (url.pathname) {
    case '/kv/put': {
      const options = {};
      if (url.searchParams.has('ttl')) options.expirationTtl = Number(url.searchParams.get('ttl'));
      if (url.searchParams.has('meta')) options.metadata = JSON.parse(url.searchParams.get('meta'));
      const value = url.searchParams.get('stream') ? request.body : await request.text();
      await env.KV.put(key, value, options);
      return json({ ok: true });
    }
    case '/kv/get': {
      const type = url.searchParams.get('type') ?? 'text';
      let value = await env.KV.get(key, { type });
      if (type === 'arrayBuffer' && value !== null) value = Array.from(new Uint8Array(value));
      if (type === 'stream' && value !== null) value = await new Response(value).text();
      return json({ value });
    }
    case '/kv/meta':
      return json(await env.KV.getWithMetadata(key));
    case '/kv/many':
      return json(Object.fromEntries(await env.KV.get(url.searchParams.getAll('k'))));
    case '/kv/delete':
      await env.KV.delete(key);
      return json({ ok: true });
    case '/kv/list': {
      const options = {};
      for (const name of ['prefix', 'cursor', 'limit']) {
        if (url.searchParams.has(name)) options[name] = url.searchParams.get(name);
      }
      if (options.limit) options.limit = Number(options.limit);
      return json(await env.KV.list(options));
    }
    case '/kv/forge': {
      // A KV object for a binding this app does not have (another app's name): the supervisor
      // must refuse its calls.
      const forged = new env.KV.constructor(url.searchParams.get('name'));
      return json({ value: await forged.get(key) });
    }
    case '/kv/later':
      // A write from waitUntil() work, after the response has gone.
      ctx.waitUntil(env.KV.put(key, 'written later'));
      return json({ ok: true });
    case '/kv/held':
      // A write from waitUntil() work once /kv/release is asked, however many requests the
      // server has answered in between.
      ctx.waitUntil(held.then(() => env.KV.put(key, 'written when released')));
      return json({ ok: true });
    case '/kv/release':
      release();
      return json({ ok: true });
  }
  return json({ error: 'no route' }, 404);
}

async function db(env, url, request) {
  const body = request.method === 'POST' ? await request.json() : {};
  switch (url.pathname) {
    case '/db/exec':
      return json(await env.DB.exec(body.sql));
    case '/db/all':
      return json(await env.DB.prepare(body.sql).bind(...(body.params ?? [])).all());
    case '/db/run':
      return json(await env.DB.prepare(body.sql).bind(...(body.params ?? [])).run());
    case '/db/first':
      return json({ value: await env.DB.prepare(body.sql).bind(...(body.params ?? []))
        .first(body.column) });
    case '/db/raw':
      return json(await env.DB.prepare(body.sql).bind(...(body.params ?? []))
        .raw({ columnNames: body.columnNames }));
    case '/db/batch':
      return json(await env.DB.batch(body.statements.map(
        (s) => env.DB.prepare(s.sql).bind(...(s.params ?? [])))));
  }
  return json({ error: 'no route' }, 404);
}

async function r2(env, url, request) {
  const key = url.searchParams.get('k');
  switch (url.pathname) {
    case '/r2/put': {
      const object = await env.BUCKET.put(key, await request.arrayBuffer(), {
        httpMetadata: { contentType: request.headers.get('content-type') ?? 'application/octet-stream' },
        customMetadata: { by: 'test' },
      });
      return json(object);
    }
    case '/r2/get': {
      const object = await env.BUCKET.get(key);
      if (object === null) return json({ found: false }, 404);
      const headers = new Headers();
      object.writeHttpMetadata(headers);
      headers.set('etag', object.httpEtag);
      headers.set('x-custom', JSON.stringify(object.customMetadata));
      return new Response(object.body, { headers });
    }
    case '/r2/head':
      return json(await env.BUCKET.head(key));
    case '/r2/delete':
      await env.BUCKET.delete(url.searchParams.getAll('k'));
      return json({ ok: true });
    case '/r2/list': {
      const options = {};
      for (const name of ['prefix', 'cursor', 'delimiter', 'limit']) {
        if (url.searchParams.has(name)) options[name] = url.searchParams.get(name);
      }
      if (options.limit) options.limit = Number(options.limit);
      const list = await env.BUCKET.list(options);
      return json({ ...list, keys: list.objects.map((o) => o.key) });
    }
  }
  return json({ error: 'no route' }, 404);
}

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    try {
      if (url.pathname.startsWith('/kv/')) return await kv(env, url, request, ctx);
      if (url.pathname.startsWith('/db/')) return await db(env, url, request);
      if (url.pathname.startsWith('/r2/')) return await r2(env, url, request);
      if (url.pathname === '/bench') return new Response(await env.KV.get('k'));
      return new Response('hello');
    } catch (error) {
      return json({ error: error.message, name: error.name }, 500);
    }
  },
};
