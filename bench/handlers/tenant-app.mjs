// A small app of about 10 KB, the unit of bench/tenants and of `isolated __bench-startup
// --apps`: a route table of small handlers, as a typical small Worker script is.
const routes = new Map();
routes.set('/r0', (url, env) => {
  const q = url.searchParams.get('q') ?? 'none';
  const parts = [0, q.length, (env && env.GREETING) || 'hi'];
  return new Response(JSON.stringify({ route: 0, parts, at: Date.now() % 1000 }), {
    headers: { 'content-type': 'application/json' },
  });
});
routes.set('/r1', (url, env) => {
  const q = url.searchParams.get('q') ?? 'none';
  const parts = [1, q.length, (env && env.GREETING) || 'hi'];
  return new Response(JSON.stringify({ route: 1, parts, at: Date.now() % 1001 }), {
    headers: { 'content-type': 'application/json' },
  });
});
routes.set('/r2', (url, env) => {
  const q = url.searchParams.get('q') ?? 'none';
  const parts = [2, q.length, (env && env.GREETING) || 'hi'];
  return new Response(JSON.stringify({ route: 2, parts, at: Date.now() % 1002 }), {
    headers: { 'content-type': 'application/json' },
  });
});
routes.set('/r3', (url, env) => {
  const q = url.searchParams.get('q') ?? 'none';
  const parts = [3, q.length, (env && env.GREETING) || 'hi'];
  return new Response(JSON.stringify({ route: 3, parts, at: Date.now() % 1003 }), {
    headers: { 'content-type': 'application/json' },
  });
});
routes.set('/r4', (url, env) => {
  const q = url.searchParams.get('q') ?? 'none';
  const parts = [4, q.length, (env && env.GREETING) || 'hi'];
  return new Response(JSON.stringify({ route: 4, parts, at: Date.now() % 1004 }), {
    headers: { 'content-type': 'application/json' },
  });
});
routes.set('/r5', (url, env) => {
  const q = url.searchParams.get('q') ?? 'none';
  const parts = [5, q.length, (env && env.GREETING) || 'hi'];
  return new Response(JSON.stringify({ route: 5, parts, at: Date.now() % 1005 }), {
    headers: { 'content-type': 'application/json' },
  });
});
routes.set('/r6', (url, env) => {
  const q = url.searchParams.get('q') ?? 'none';
  const parts = [6, q.length, (env && env.GREETING) || 'hi'];
  return new Response(JSON.stringify({ route: 6, parts, at: Date.now() % 1006 }), {
    headers: { 'content-type': 'application/json' },
  });
});
routes.set('/r7', (url, env) => {
  const q = url.searchParams.get('q') ?? 'none';
  const parts = [7, q.length, (env && env.GREETING) || 'hi'];
  return new Response(JSON.stringify({ route: 7, parts, at: Date.now() % 1007 }), {
    headers: { 'content-type': 'application/json' },
  });
});
routes.set('/r8', (url, env) => {
  const q = url.searchParams.get('q') ?? 'none';
  const parts = [8, q.length, (env && env.GREETING) || 'hi'];
  return new Response(JSON.stringify({ route: 8, parts, at: Date.now() % 1008 }), {
    headers: { 'content-type': 'application/json' },
  });
});
routes.set('/r9', (url, env) => {
  const q = url.searchParams.get('q') ?? 'none';
  const parts = [9, q.length, (env && env.GREETING) || 'hi'];
  return new Response(JSON.stringify({ route: 9, parts, at: Date.now() % 1009 }), {
    headers: { 'content-type': 'application/json' },
  });
});
routes.set('/r10', (url, env) => {
  const q = url.searchParams.get('q') ?? 'none';
  const parts = [10, q.length, (env && env.GREETING) || 'hi'];
  return new Response(JSON.stringify({ route: 10, parts, at: Date.now() % 1010 }), {
    headers: { 'content-type': 'application/json' },
  });
});
routes.set('/r11', (url, env) => {
  const q = url.searchParams.get('q') ?? 'none';
  const parts = [11, q.length, (env && env.GREETING) || 'hi'];
  return new Response(JSON.stringify({ route: 11, parts, at: Date.now() % 1011 }), {
    headers: { 'content-type': 'application/json' },
  });
});
routes.set('/r12', (url, env) => {
  const q = url.searchParams.get('q') ?? 'none';
  const parts = [12, q.length, (env && env.GREETING) || 'hi'];
  return new Response(JSON.stringify({ route: 12, parts, at: Date.now() % 1012 }), {
    headers: { 'content-type': 'application/json' },
  });
});
routes.set('/r13', (url, env) => {
  const q = url.searchParams.get('q') ?? 'none';
  const parts = [13, q.length, (env && env.GREETING) || 'hi'];
  return new Response(JSON.stringify({ route: 13, parts, at: Date.now() % 1013 }), {
    headers: { 'content-type': 'application/json' },
  });
});
routes.set('/r14', (url, env) => {
  const q = url.searchParams.get('q') ?? 'none';
  const parts = [14, q.length, (env && env.GREETING) || 'hi'];
  return new Response(JSON.stringify({ route: 14, parts, at: Date.now() % 1014 }), {
    headers: { 'content-type': 'application/json' },
  });
});
routes.set('/r15', (url, env) => {
  const q = url.searchParams.get('q') ?? 'none';
  const parts = [15, q.length, (env && env.GREETING) || 'hi'];
  return new Response(JSON.stringify({ route: 15, parts, at: Date.now() % 1015 }), {
    headers: { 'content-type': 'application/json' },
  });
});
routes.set('/r16', (url, env) => {
  const q = url.searchParams.get('q') ?? 'none';
  const parts = [16, q.length, (env && env.GREETING) || 'hi'];
  return new Response(JSON.stringify({ route: 16, parts, at: Date.now() % 1016 }), {
    headers: { 'content-type': 'application/json' },
  });
});
routes.set('/r17', (url, env) => {
  const q = url.searchParams.get('q') ?? 'none';
  const parts = [17, q.length, (env && env.GREETING) || 'hi'];
  return new Response(JSON.stringify({ route: 17, parts, at: Date.now() % 1017 }), {
    headers: { 'content-type': 'application/json' },
  });
});
routes.set('/r18', (url, env) => {
  const q = url.searchParams.get('q') ?? 'none';
  const parts = [18, q.length, (env && env.GREETING) || 'hi'];
  return new Response(JSON.stringify({ route: 18, parts, at: Date.now() % 1018 }), {
    headers: { 'content-type': 'application/json' },
  });
});
routes.set('/r19', (url, env) => {
  const q = url.searchParams.get('q') ?? 'none';
  const parts = [19, q.length, (env && env.GREETING) || 'hi'];
  return new Response(JSON.stringify({ route: 19, parts, at: Date.now() % 1019 }), {
    headers: { 'content-type': 'application/json' },
  });
});
routes.set('/r20', (url, env) => {
  const q = url.searchParams.get('q') ?? 'none';
  const parts = [20, q.length, (env && env.GREETING) || 'hi'];
  return new Response(JSON.stringify({ route: 20, parts, at: Date.now() % 1020 }), {
    headers: { 'content-type': 'application/json' },
  });
});
routes.set('/r21', (url, env) => {
  const q = url.searchParams.get('q') ?? 'none';
  const parts = [21, q.length, (env && env.GREETING) || 'hi'];
  return new Response(JSON.stringify({ route: 21, parts, at: Date.now() % 1021 }), {
    headers: { 'content-type': 'application/json' },
  });
});
routes.set('/r22', (url, env) => {
  const q = url.searchParams.get('q') ?? 'none';
  const parts = [22, q.length, (env && env.GREETING) || 'hi'];
  return new Response(JSON.stringify({ route: 22, parts, at: Date.now() % 1022 }), {
    headers: { 'content-type': 'application/json' },
  });
});
routes.set('/r23', (url, env) => {
  const q = url.searchParams.get('q') ?? 'none';
  const parts = [23, q.length, (env && env.GREETING) || 'hi'];
  return new Response(JSON.stringify({ route: 23, parts, at: Date.now() % 1023 }), {
    headers: { 'content-type': 'application/json' },
  });
});
routes.set('/r24', (url, env) => {
  const q = url.searchParams.get('q') ?? 'none';
  const parts = [24, q.length, (env && env.GREETING) || 'hi'];
  return new Response(JSON.stringify({ route: 24, parts, at: Date.now() % 1024 }), {
    headers: { 'content-type': 'application/json' },
  });
});
routes.set('/r25', (url, env) => {
  const q = url.searchParams.get('q') ?? 'none';
  const parts = [25, q.length, (env && env.GREETING) || 'hi'];
  return new Response(JSON.stringify({ route: 25, parts, at: Date.now() % 1025 }), {
    headers: { 'content-type': 'application/json' },
  });
});
routes.set('/r26', (url, env) => {
  const q = url.searchParams.get('q') ?? 'none';
  const parts = [26, q.length, (env && env.GREETING) || 'hi'];
  return new Response(JSON.stringify({ route: 26, parts, at: Date.now() % 1026 }), {
    headers: { 'content-type': 'application/json' },
  });
});
routes.set('/r27', (url, env) => {
  const q = url.searchParams.get('q') ?? 'none';
  const parts = [27, q.length, (env && env.GREETING) || 'hi'];
  return new Response(JSON.stringify({ route: 27, parts, at: Date.now() % 1027 }), {
    headers: { 'content-type': 'application/json' },
  });
});
routes.set('/r28', (url, env) => {
  const q = url.searchParams.get('q') ?? 'none';
  const parts = [28, q.length, (env && env.GREETING) || 'hi'];
  return new Response(JSON.stringify({ route: 28, parts, at: Date.now() % 1028 }), {
    headers: { 'content-type': 'application/json' },
  });
});
routes.set('/r29', (url, env) => {
  const q = url.searchParams.get('q') ?? 'none';
  const parts = [29, q.length, (env && env.GREETING) || 'hi'];
  return new Response(JSON.stringify({ route: 29, parts, at: Date.now() % 1029 }), {
    headers: { 'content-type': 'application/json' },
  });
});
routes.set('/r30', (url, env) => {
  const q = url.searchParams.get('q') ?? 'none';
  const parts = [30, q.length, (env && env.GREETING) || 'hi'];
  return new Response(JSON.stringify({ route: 30, parts, at: Date.now() % 1030 }), {
    headers: { 'content-type': 'application/json' },
  });
});
routes.set('/r31', (url, env) => {
  const q = url.searchParams.get('q') ?? 'none';
  const parts = [31, q.length, (env && env.GREETING) || 'hi'];
  return new Response(JSON.stringify({ route: 31, parts, at: Date.now() % 1031 }), {
    headers: { 'content-type': 'application/json' },
  });
});
routes.set('/r32', (url, env) => {
  const q = url.searchParams.get('q') ?? 'none';
  const parts = [32, q.length, (env && env.GREETING) || 'hi'];
  return new Response(JSON.stringify({ route: 32, parts, at: Date.now() % 1032 }), {
    headers: { 'content-type': 'application/json' },
  });
});
routes.set('/r33', (url, env) => {
  const q = url.searchParams.get('q') ?? 'none';
  const parts = [33, q.length, (env && env.GREETING) || 'hi'];
  return new Response(JSON.stringify({ route: 33, parts, at: Date.now() % 1033 }), {
    headers: { 'content-type': 'application/json' },
  });
});
export default {
  fetch(request, env) {
    const url = new URL(request.url);
    const handler = routes.get(url.pathname);
    if (handler) return handler(url, env);
    return new Response('app ' + ((env && env.APP) || '?') + ' ok\n');
  },
};
