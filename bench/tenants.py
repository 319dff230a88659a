#!/usr/bin/env python3
"""bench/tenants.py: the app generator and the keep-alive HTTP client of bench/tenants.sh.

Standard library only. Subcommands:

  gen DIR N            write DIR/app0.js .. DIR/app{N-1}.js, about 10 KB each: a module
                       worker with constant tables, a few functions and a switch on the
                       pathname. Each file differs (names, tables, constants come from a
                       generator seeded by the app number), so no two apps share source.
                       GET / answers "app=appI items=..." (the check looks for its name).
  check PORT N         GET / with Host: appI.test for every app, in order, on one keep-alive
                       connection; every answer must be 200 and name its app.
  cold PORT FIRST COUNT WARM
                       for apps FIRST..FIRST+COUNT-1, on one keep-alive connection: the app's
                       first request (a cold start when the app has no isolate yet), then WARM
                       more requests to it; prints one line per app (cold ms, median warm ms)
                       and a summary line of cold - warm percentiles.
  cycle PORT N CONNS MAX_REQUESTS MAX_SECONDS
                       CONNS keep-alive connections (threads) requesting app0, app1, ...,
                       app{N-1}, app0, ... in turn until MAX_REQUESTS requests or MAX_SECONDS
                       have passed; counts the answers that are not 200 with the app's name.

Every loop is bounded by its count and every request by a timeout (TIMEOUT_S), so a stuck
server fails the benchmark instead of hanging it. Output lines are `key=value` words so the
shell script can read them with awk.
"""

import http.client
import itertools
import random
import statistics
import sys
import threading
import time

TIMEOUT_S = 10.0

WORDS = (
    "amber basalt cedar delta ember fjord garnet harbor indigo juniper kestrel lagoon "
    "meadow nickel onyx pepper quartz raven saffron tundra umber violet willow xenon "
    "yarrow zephyr anchor bramble copper dune"
).split()
CURRENCIES = ("EUR", "GBP", "JPY", "CHF", "SEK", "NOK", "PLN", "CAD")
LOCALES = ("en", "fr", "de", "es", "it")


def app_source(index):
    """One app's module source: realistic shape, distinct content, about 10 KB."""
    rng = random.Random(index * 7919 + 17)
    name = f"app{index}"
    lines = [
        f"// {name}: a generated tenant for bench/tenants.sh (bench/tenants.py gen).",
        f"const APP = '{name}';",
        f"const VERSION = '{rng.randint(1, 9)}.{rng.randint(0, 40)}.{rng.randint(0, 99)}';",
        "",
        "const CATALOG = [",
    ]
    for item in range(52):
        words = rng.sample(WORDS, 3)
        tags = ", ".join(f"'{t}'" for t in rng.sample(WORDS, 2))
        lines.append(
            f"  {{ id: {index * 1000 + item}, sku: '{name.upper()}-{item:03d}', "
            f"title: '{words[0].title()} {words[1]} {words[2]}', "
            f"price: {rng.randint(100, 99999)}, stock: {rng.randint(0, 500)}, tags: [{tags}] }},"
        )
    lines.append("];")
    lines.append("")
    rates = ", ".join(f"{c}: {rng.uniform(0.1, 160):.4f}" for c in CURRENCIES)
    lines.append(f"const RATES = {{ USD: 1, {rates} }};")
    lines.append("const MESSAGES = {")
    for loc in LOCALES:
        w = rng.sample(WORDS, 4)
        lines.append(
            f"  {loc}: {{ welcome: '{w[0]} {w[1]} ({loc})', empty: '{w[2]} ({loc})', "
            f"missing: '{w[3]} not found ({loc})' }},"
        )
    lines.append("};")
    lines.append(
        f"const LIMITS = {{ pageSize: {rng.randint(5, 20)}, maxQuery: {rng.randint(20, 80)}, "
        f"discountPercent: {rng.randint(0, 30)} }};"
    )
    lines.append("")
    lines.append(
        """function formatPrice(cents, currency) {
  const rate = RATES[currency] ?? 1;
  const value = (cents * rate) / 100;
  return `${value.toFixed(2)} ${currency in RATES ? currency : 'USD'}`;
}

function discounted(item) {
  return Math.round(item.price * (100 - LIMITS.discountPercent) / 100);
}

function findItem(id) {
  for (const item of CATALOG) if (item.id === id) return item;
  return undefined;
}

function search(query) {
  const q = query.slice(0, LIMITS.maxQuery).toLowerCase();
  return CATALOG.filter((item) => item.title.toLowerCase().includes(q) || item.tags.includes(q));
}

function page(items, n) {
  const start = Math.max(0, n) * LIMITS.pageSize;
  return items.slice(start, start + LIMITS.pageSize);
}

function message(request, key) {
  const lang = (request.headers.get('accept-language') || 'en').slice(0, 2);
  return (MESSAGES[lang] || MESSAGES.en)[key];
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function renderItem(item, currency) {
  return `<li id="${item.sku}">${escapeHtml(item.title)}: ${formatPrice(discounted(item), currency)}` +
    ` (${item.stock} left) ${item.tags.map(escapeHtml).join(', ')}</li>`;
}

function html(body, status = 200) {
  return new Response(`<!doctype html><title>${APP}</title>${body}`, {
    status,
    headers: { 'content-type': 'text/html; charset=utf-8' },
  });
}

function totals(lines) {
  let sum = 0;
  let count = 0;
  for (const { id, qty } of lines) {
    const item = findItem(Number(id));
    if (!item || !(qty > 0)) continue;
    sum += discounted(item) * qty;
    count += qty;
  }
  return { count, sum };
}

export default {
  async fetch(request) {
    const url = new URL(request.url);
    const currency = url.searchParams.get('currency') || 'USD';
    switch (url.pathname) {
      case '/':
        return new Response(`app=${APP} items=${CATALOG.length} version=${VERSION}\\n`);
      case '/health':
        return Response.json({ app: APP, ok: true });
      case '/products': {
        const items = page(CATALOG, Number(url.searchParams.get('page') || 0));
        if (items.length === 0) return html(`<p>${message(request, 'empty')}</p>`);
        return html(`<h1>${message(request, 'welcome')}</h1><ul>${items.map((i) => renderItem(i, currency)).join('')}</ul>`);
      }
      case '/product': {
        const item = findItem(Number(url.searchParams.get('id')));
        if (!item) return html(`<p>${message(request, 'missing')}</p>`, 404);
        return Response.json({ ...item, display: formatPrice(discounted(item), currency) });
      }
      case '/search':
        return Response.json(search(url.searchParams.get('q') || '').map((i) => i.sku));
      case '/cart': {
        if (request.method !== 'POST') return new Response('POST a cart\\n', { status: 405 });
        const { count, sum } = totals(await request.json());
        return Response.json({ app: APP, count, total: formatPrice(sum, currency) });
      }
      default:
        return new Response(`app=${APP}: no page ${url.pathname}\\n`, { status: 404 });
    }
  },
};
"""
    )
    return "\n".join(lines)


def gen(directory, count):
    sizes = []
    for i in range(count):
        src = app_source(i)
        sizes.append(len(src))
        with open(f"{directory}/app{i}.js", "w", encoding="utf-8") as f:
            f.write(src)
    print(f"apps={count} mean_bytes={sum(sizes) // max(1, count)} min_bytes={min(sizes)} "
          f"max_bytes={max(sizes)}")


class Client:
    """One keep-alive connection to the server; get() times one request client-side."""

    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
        self.reconnects = 0

    def get(self, host, path="/"):
        """(status, body, milliseconds, reused): the time spans sending to the last byte."""
        reused = self.conn.sock is not None
        start = time.perf_counter()
        try:
            self.conn.request("GET", path, headers={"Host": host})
            resp = self.conn.getresponse()
            body = resp.read().decode("utf-8", "replace")
            status = resp.status
            if resp.getheader("connection", "").lower() == "close":
                self.conn.close()
        except (OSError, http.client.HTTPException) as e:
            self.conn.close()
            self.reconnects += 1
            return 0, f"{type(e).__name__}: {e}", (time.perf_counter() - start) * 1000, reused
        return status, body, (time.perf_counter() - start) * 1000, reused


def answers(app, status, body):
    return status == 200 and body.startswith(f"app={app} ")


def check(port, count):
    client = Client(port)
    failures = []
    start = time.perf_counter()
    for i in range(count):
        app = f"app{i}"
        status, body, _, _ = client.get(f"{app}.test")
        if not answers(app, status, body):
            failures.append(f"{app}: {status} {body.strip()[:120]!r}")
    for f in failures[:10]:
        print(f"failure {f}")
    print(f"checked={count} ok={count - len(failures)} failed={len(failures)} "
          f"seconds={time.perf_counter() - start:.2f} reconnects={client.reconnects}")


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def cold(port, first, count, warm):
    client = Client(port)
    client.get("warmup.invalid")  # opens the connection; no route: 404
    deltas, colds, warms, failed, not_reused = [], [], [], 0, 0
    for i in range(first, first + count):
        app = f"app{i}"
        status, body, cold_ms, reused = client.get(f"{app}.test")
        ok = answers(app, status, body)
        not_reused += not reused
        times = []
        for _ in range(warm):
            s, b, ms, reused = client.get(f"{app}.test")
            ok = ok and answers(app, s, b)
            not_reused += not reused
            times.append(ms)
        if not ok:
            failed += 1
            print(f"failure {app}: {status} {body.strip()[:120]!r}")
            continue
        warm_ms = statistics.median(times)
        colds.append(cold_ms)
        warms.append(warm_ms)
        deltas.append(cold_ms - warm_ms)
        print(f"app={app} cold_ms={cold_ms:.3f} warm_ms={warm_ms:.3f}")
    if not deltas:
        print(f"summary apps={count} failed={failed} measured=0")
        return
    print(
        f"summary apps={count} failed={failed} measured={len(deltas)} "
        f"new_connections={not_reused} "
        f"delta_p50_ms={percentile(deltas, 50):.3f} delta_p99_ms={percentile(deltas, 99):.3f} "
        f"cold_p50_ms={percentile(colds, 50):.3f} cold_p99_ms={percentile(colds, 99):.3f} "
        f"warm_p50_ms={percentile(warms, 50):.3f} warm_p99_ms={percentile(warms, 99):.3f}"
    )


def cycle(port, count, conns, max_requests, max_seconds):
    deadline = time.perf_counter() + max_seconds
    tickets = itertools.count()  # next() on it is atomic under the GIL
    lock = threading.Lock()
    times, failures = [], []

    def run():
        client = Client(port)
        while time.perf_counter() < deadline:
            n = next(tickets)
            if n >= max_requests:
                return
            app = f"app{n % count}"
            status, body, ms, _ = client.get(f"{app}.test")
            with lock:
                times.append(ms)
                if not answers(app, status, body):
                    failures.append(f"{app}: {status} {body.strip()[:120]!r}")

    start = time.perf_counter()
    threads = [threading.Thread(target=run) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    for f in failures[:10]:
        print(f"failure {f}")
    if not times:
        print("requests=0 failed=0")
        return
    print(f"requests={len(times)} failed={len(failures)} seconds={seconds:.2f} "
          f"rps={len(times) / seconds:.1f} p50_ms={percentile(times, 50):.3f} "
          f"p99_ms={percentile(times, 99):.3f} cycles={len(times) / count:.2f}")


def main(argv):
    if len(argv) >= 3 and argv[1] == "gen":
        gen(argv[2], int(argv[3]))
    elif len(argv) == 4 and argv[1] == "check":
        check(int(argv[2]), int(argv[3]))
    elif len(argv) == 7 and argv[1] == "cycle":
        cycle(int(argv[2]), int(argv[3]), int(argv[4]), int(argv[5]), float(argv[6]))
    elif len(argv) == 6 and argv[1] == "cold":
        cold(int(argv[2]), int(argv[3]), int(argv[4]), int(argv[5]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
