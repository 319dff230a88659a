#!/usr/bin/env python3
"""bench/render.py: turn bench/suite.sh's records into its results.

    python3 bench/render.py RECORDS.tsv OUT_DIR

RECORDS.tsv has one result per line: a kind, then tab-separated key=value
fields (suite.sh's `record`). This writes OUT_DIR/suite.json, suite.md and
suite.svg (a chart drawn here, standard library only) and prints the summary
table on stdout. Run it again on bench/results/suite/records.tsv to redraw a
run without measuring anything.
"""

import json
import math
import os
import statistics
import sys
from html import escape

SERVER_ORDER = ["isolated/shared", "isolated/context", "isolated/isolate", "node-cluster", "workerd"]
COLORS = {
    "isolated/shared": "#2563eb",
    "isolated/context": "#60a5fa",
    "isolated/isolate": "#1e3a8a",
    "node-cluster": "#16a34a",
    "workerd": "#f97316",
}
HANDLER_TITLES = {
    "hello": "hello world",
    "echo": "JSON echo (POST)",
    "timer": "5 ms setTimeout",
}
BASE = "isolated/shared"


def number(v):
    """'12' -> 12, '1.5' -> 1.5, anything else unchanged."""
    try:
        return int(v)
    except ValueError:
        pass
    try:
        f = float(v)
        return f if math.isfinite(f) else v
    except ValueError:
        return v


def numbers(v):
    """'1.5 2 3' -> [1.5, 2, 3] (space-separated samples)."""
    return [number(x) for x in str(v).split()] if str(v).strip() else []


def read_records(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            kind, *fields = line.split("\t")
            row = {"kind": kind}
            for field in fields:
                key, _, value = field.partition("=")
                row[key] = number(value) if value != "" else None
            rows.append(row)
    return rows


def server_key(name):
    return SERVER_ORDER.index(name) if name in SERVER_ORDER else len(SERVER_ORDER)


def summary(samples):
    if not samples:
        return None
    return {
        "median": round(statistics.median(samples), 1),
        "min": round(min(samples), 1),
        "max": round(max(samples), 1),
        "samples": samples,
    }


def ratio(a, b):
    if a is None or b in (None, 0):
        return None
    return round(a / b, 2)


def headline(hello, meta):
    """The three headline ratios for hello world; null (with a reason) when a server is missing."""
    out = {}
    for key in ("shared/isolate", "shared/workerd", "shared/node-cluster"):
        if key in hello:
            out[key] = hello[key]
        elif key == "shared/isolate" and not meta.get("isolation_flag"):
            out[key] = {"rps": None, "p99": None, "why": "isolation modes not available in this build"}
        else:
            out[key] = {"rps": None, "p99": None, "why": "not measured in this run"}
    for key, v in hello.items():
        out.setdefault(key, v)
    return out


def build(rows):
    """The suite.json document."""
    by_kind = {}
    for r in rows:
        by_kind.setdefault(r["kind"], []).append(r)
    meta = (by_kind.get("meta") or [{}])[0]
    handlers = str(meta.get("handlers") or "hello echo timer").split()

    # Several rounds: keep each (handler, server)'s best round by req/s (other work on a
    # shared machine only ever slows a server down), with that round's latencies.
    best, samples = {}, {}
    for r in by_kind.get("throughput", []):
        key = (r["handler"], r["server"])
        samples.setdefault(key, []).append(r.get("rps"))
        if key not in best or (r.get("rps") or 0) > (best[key].get("rps") or 0):
            best[key] = r
    best_round = {k: r.get("round") for k, r in best.items()}

    throughput = []
    for key, r in best.items():
        throughput.append({
            "handler": r["handler"],
            "server": r["server"],
            "workers": r.get("workers"),
            "requests": r.get("requests"),
            "rps": r.get("rps"),
            "round": r.get("round"),
            "rps_rounds": samples[key],
            "latency_ms": {k: r.get(k + "_ms") for k in ("p50", "p99", "p999", "max")},
            "errors": {k: r.get("err_" + k, 0) for k in ("connect", "read", "write", "status", "timeout")},
            "startup_ms": r.get("startup_ms"),
            "idle_rss_kb_per_worker": r.get("idle_rss_kb"),
            "cpu_us_per_request": {
                "total": r.get("cpu_us_per_req"),
                "supervisor": r.get("cpu_us_per_req_supervisor"),
                "workers": r.get("cpu_us_per_req_workers"),
                "main_thread": r.get("cpu_us_per_req_main_thread"),
                "io_thread_max": r.get("cpu_us_per_req_io_thread_max"),
            },
            "supervisor_ceiling_rps": r.get("ceiling_rps"),
        })
    throughput.sort(key=lambda t: (handlers.index(t["handler"]) if t["handler"] in handlers else 99,
                                   server_key(t["server"])))

    fixed_rows = {}
    for r in by_kind.get("fixed_rate", []):
        key = (r["handler"], r["server"])
        if key not in fixed_rows or r.get("round") == best_round.get(key):
            fixed_rows[key] = r
    fixed = []
    for r in fixed_rows.values():
        fixed.append({
            "handler": r["handler"],
            "server": r["server"],
            "round": r.get("round"),
            "target_rps": r.get("target_rps"),
            "achieved_rps": r.get("achieved_rps"),
            "requests": r.get("requests"),
            "failed": r.get("non2xx_or_failed"),
            "latency_ms": {k: r.get(k + "_ms") for k in ("p50", "p99", "p999")},
        })
    fixed.sort(key=lambda t: (handlers.index(t["handler"]) if t["handler"] in handlers else 99,
                              server_key(t["server"])))

    ratios = {}
    for h in handlers:
        rps = {t["server"]: t["rps"] for t in throughput if t["handler"] == h}
        p99 = {t["server"]: t["latency_ms"]["p99"] for t in throughput if t["handler"] == h}
        if BASE not in rps:
            continue
        entry = {}
        for other in sorted(rps, key=server_key):
            if other == BASE:
                continue
            short = other.split("/", 1)[1] if other.startswith("isolated/") else other
            entry["shared/" + short] = {"rps": ratio(rps[BASE], rps[other]),
                                        "p99": ratio(p99.get(BASE), p99.get(other))}
        ratios[h] = entry

    startup = []
    for r in by_kind.get("startup", []):
        startup.append({
            "server": r["server"],
            "variant": r.get("variant"),
            "runs": r.get("runs"),
            "first_200_ms": summary(numbers(r.get("first_200_ms") or "")),
            "worker_spawn_to_ready_ms": summary(numbers(r.get("spawn_to_ready_ms") or "")),
        })
    startup.sort(key=lambda s: server_key(s["server"]))

    memory = []
    for r in by_kind.get("memory", []):
        memory.append({k: r.get(k) for k in (
            "server", "idle_rss_kb", "loaded_rss_kb", "peak_rss_kb", "in_flight",
            "mb_per_1000_in_flight", "requests", "errors", "worker_survived")})

    sup = {}
    base_cpu = [t for t in throughput if t["server"].startswith("isolated/")]
    sup["cpu_us_per_request"] = [
        {"handler": t["handler"], "server": t["server"], **t["cpu_us_per_request"],
         "ceiling_rps": t.get("supervisor_ceiling_rps")} for t in base_cpu]
    sup["profiles"] = []
    for prof in by_kind.get("profile", []):
        name = prof.get("profiler")
        sup["profiles"].append({
            "profiler": name,
            "server": prof.get("server"),
            "window_s": prof.get("window_s"),
            "requests": prof.get("requests"),
            "instructions_per_request": prof.get("instructions_per_request"),
            "report": prof.get("report"),
            "top_functions": [{"pct": r.get("pct"), "dso": r.get("dso"), "symbol": r.get("sym")}
                              for r in by_kind.get("perf_sym", []) if r.get("profiler") in (name, None)],
            "by_object": [{"pct": r.get("pct"), "dso": r.get("dso")}
                          for r in by_kind.get("perf_dso", []) if r.get("profiler") in (name, None)],
        })
    win = (by_kind.get("syscalls_window") or [None])[0]
    if win:
        sup["syscalls"] = {
            "tool": "strace -c -f",
            "window_s": win.get("window_s"),
            "requests": win.get("requests"),
            "per_request": [{"syscall": r.get("name"), "calls": r.get("calls"), "errors": r.get("errors"),
                             "per_request": r.get("per_request")} for r in by_kind.get("syscall", [])],
        }

    notes = [r.get("text") for r in by_kind.get("note", [])]
    config_keys = ["workers", "node_cluster", "conns", "duration_s", "warmup_s", "rounds", "rate_duration_s",
                   "rate_fraction", "startup_runs", "mem_conns", "hold_ms", "quick"]
    return {
        "benchmark": "suite",
        "timestamp": meta.get("timestamp"),
        "commit": meta.get("commit"),
        "host": {"cores": meta.get("cores"), "cpu": meta.get("cpu"), "kernel": meta.get("kernel")},
        "tools": {k: meta.get(k) for k in ("wrk", "h2load", "node", "workerd", "isolated_bin")},
        "config": {k: meta.get(k) for k in config_keys},
        "isolation_modes": {"flag": bool(meta.get("isolation_flag")), "modes": str(meta.get("modes") or "").split()},
        "servers": str(meta.get("servers") or "").split(),
        "handlers": handlers,
        "notes": notes,
        "headline": headline(ratios.get("hello", {}), meta),
        "ratios": ratios,
        "throughput": throughput,
        "fixed_rate": fixed,
        "startup": startup,
        "memory": memory,
        "supervisor": sup,
    }


# --- text --------------------------------------------------------------------------

def fmt(v, spec="{:.2f}", none="-"):
    if v is None or v == "":
        return none
    try:
        return spec.format(v)
    except (ValueError, TypeError):
        return str(v)


def errors_total(t):
    return sum(v or 0 for v in t["errors"].values())


def text_table(doc):
    out = []
    cfg = doc["config"]
    out.append(f"isolated benchmark suite: {doc['commit']}, {doc['host']['cores']} cores, "
               f"wrk -t1 -c{cfg['conns']} -d{cfg['duration_s']}s, isolated --workers {cfg['workers']}, "
               f"node-cluster {cfg['node_cluster']} workers")
    for n in doc["notes"]:
        out.append(f"note: {n}")
    out.append("")
    out.append(f"{'handler':<7} {'server':<17} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9} "
               f"{'err':>5} {'cpu us/req':>10} {'sup us/req':>10} | {'rate':>7} {'p50 ms':>8} {'p99 ms':>8}")
    fixed = {(f["handler"], f["server"]): f for f in doc["fixed_rate"]}
    for t in doc["throughput"]:
        f = fixed.get((t["handler"], t["server"]))
        lat = t["latency_ms"]
        out.append(
            f"{t['handler']:<7} {t['server']:<17} {fmt(t['rps'], '{:.0f}'):>9} {fmt(lat['p50'], '{:.3f}'):>8} "
            f"{fmt(lat['p99'], '{:.3f}'):>8} {fmt(lat['p999'], '{:.3f}'):>9} {errors_total(t):>5} "
            f"{fmt(t['cpu_us_per_request']['total'], '{:.1f}'):>10} "
            f"{fmt(t['cpu_us_per_request']['supervisor'], '{:.1f}'):>10} | "
            f"{fmt(f and f['achieved_rps'], '{:.0f}'):>7} {fmt(f and f['latency_ms']['p50'], '{:.3f}'):>8} "
            f"{fmt(f and f['latency_ms']['p99'], '{:.3f}'):>8}")
    out.append("(rate: h2load --h1 at {:.0%} of that server's own peak; p50/p99 at that rate)".format(
        float(cfg.get("rate_fraction") or 0.5)))
    out.append("")
    out.append("HEADLINE hello world req/s: " + ", ".join(
        f"{k} {fmt(v['rps'])}" + (f" ({v['why']})" if v.get("why") else "") for k, v in doc["headline"].items()))
    for h, entry in doc["ratios"].items():
        parts = [f"{k} {fmt(v['rps'])}" for k, v in entry.items()]
        out.append(f"req/s ratios, {h}: " + (", ".join(parts) if parts else "n/a"))
    out.append("")
    for s in doc["startup"]:
        f2, sr = s["first_200_ms"], s["worker_spawn_to_ready_ms"]
        out.append(f"startup {s['server']:<17} {s['variant']:<11} first 200 median "
                   f"{fmt(f2 and f2['median'], '{:.1f}')} ms (min {fmt(f2 and f2['min'], '{:.1f}')}, "
                   f"max {fmt(f2 and f2['max'], '{:.1f}')})"
                   + (f"; worker spawn_to_ready median {sr['median']:.1f} ms" if sr else ""))
    for m in doc["memory"]:
        out.append(f"memory  {m['server']:<17} idle {fmt(m['idle_rss_kb'] and m['idle_rss_kb'] / 1024, '{:.1f}')} MB, "
                   f"{fmt(m['loaded_rss_kb'] and m['loaded_rss_kb'] / 1024, '{:.1f}')} MB with {m['in_flight']} "
                   f"in flight -> {fmt(m['mb_per_1000_in_flight'], '{:.1f}')} MB per 1000 in flight")
    sup = doc["supervisor"]
    for prof in sup.get("profiles", []):
        if not prof["top_functions"]:
            continue
        top = ", ".join(f"{f['symbol']} {fmt(f['pct'], '{:.1f}')}%" for f in prof["top_functions"][:6])
        out.append(f"supervisor profile ({prof['profiler']}, self time): {top}")
        if prof["by_object"]:
            out.append("  by object: " + ", ".join(f"{o['dso']} {fmt(o['pct'], '{:.1f}')}%"
                                                  for o in prof["by_object"][:6]))
        if prof.get("instructions_per_request"):
            out.append(f"  supervisor instructions per request (callgrind): {prof['instructions_per_request']:,}")
    sc = sup.get("syscalls")
    if sc and sc["per_request"]:
        top = ", ".join(f"{s['syscall']} {fmt(s['per_request'], '{:.2f}')}" for s in sc["per_request"][:6])
        out.append(f"supervisor syscalls per request (strace -c): {top}")
    return "\n".join(out)


def md_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def markdown(doc):
    cfg = doc["config"]
    md = ["# Benchmark suite results", ""]
    md.append(f"Run {doc['timestamp']} on commit `{doc['commit']}`: {doc['host']['cores']} cores "
              f"({doc['host']['cpu']}), kernel {doc['host']['kernel']}. Tools: wrk {doc['tools']['wrk']}, "
              f"h2load {doc['tools']['h2load']}, node {doc['tools']['node']}, workerd {doc['tools']['workerd']}."
              + (" **QUICK run** (short smoke test)." if cfg.get("quick") == 1 else ""))
    md.append("")
    md.append(f"`isolated serve --workers {cfg['workers']}`; Node.js `http` cluster with {cfg['node_cluster']} "
              f"workers; workerd as one process. Each server runs alone, on loopback, with the load generator "
              f"on the same cores. The machine is shared and noisy: compare the **ratios** between servers "
              f"from the same run, not absolute figures across runs.")
    md.append("")
    md.append("![throughput and latency per server](suite.svg)")
    md.append("")
    if doc["notes"]:
        md.append("Notes:")
        md += [f"- {escape(n)}" for n in doc["notes"]]
        md.append("")

    md.append("## Headline: hello world, req/s ratios")
    md.append("")
    if doc["headline"]:
        md.append(md_table(["ratio", "req/s", "p99"],
                           [[k, fmt(v["rps"], none=f"n/a ({v['why']})" if v.get("why") else "-"), fmt(v["p99"])]
                            for k, v in doc["headline"].items()]))
        md.append("")
        md.append("`shared/X` is isolated in shared mode divided by X: above 1 means shared mode serves more "
                  "requests per second. For p99, below 1 means shared mode has the lower tail latency.")
    else:
        md.append("n/a (no isolated/shared hello-world run)")
    md.append("")

    md.append(f"## Throughput and latency at fixed concurrency (wrk -t1 -c{cfg['conns']} "
              f"-d{cfg['duration_s']}s --latency)")
    md.append("")
    rows = []
    base = {t["handler"]: t["rps"] for t in doc["throughput"] if t["server"] == BASE}
    for t in doc["throughput"]:
        lat, cpu = t["latency_ms"], t["cpu_us_per_request"]
        rows.append([t["handler"], t["server"], fmt(t["rps"], "{:.0f}"), fmt(ratio(t["rps"], base.get(t["handler"]))),
                     fmt(lat["p50"], "{:.3f}"), fmt(lat["p99"], "{:.3f}"), fmt(lat["p999"], "{:.3f}"),
                     fmt(lat["max"], "{:.1f}"), errors_total(t), fmt(cpu["total"], "{:.1f}"),
                     fmt(cpu["supervisor"], "{:.1f}"), fmt(cpu["workers"], "{:.1f}"),
                     fmt(t["idle_rss_kb_per_worker"] and t["idle_rss_kb_per_worker"] / 1024, "{:.1f}"),
                     fmt(t["startup_ms"], "{:.0f}"),
                     " / ".join(fmt(v, "{:.0f}") for v in t["rps_rounds"])])
    md.append(md_table(["handler", "server", "req/s", "vs shared", "p50 ms", "p99 ms", "p99.9 ms", "max ms",
                        "errors", "CPU µs/req", "supervisor µs/req", "workers µs/req", "idle RSS/worker MB",
                        "first 200 ms", "req/s per round"], rows))
    md.append("")
    md.append(f"{cfg.get('rounds') or 1} round(s), server order reversed every other round. Each row is the "
              "server's best round by req/s (other work on a shared machine only ever slows a server down); "
              "its latencies, CPU and fixed-rate figures come from that same round.")
    md.append("")
    md.append("CPU µs/req: user+system CPU of all the server's processes (from /proc/PID/stat) over the measured "
              "run, divided by the requests wrk completed; for isolated also split into supervisor and workers. "
              "Errors: wrk connect/read/write/timeout errors plus non-2xx responses.")
    md.append("")

    md.append(f"## Latency at a fixed rate ({float(cfg.get('rate_fraction') or 0.5):.0%} of each server's own peak)")
    md.append("")
    md.append(f"`h2load --h1 -c {cfg['conns']} -D {cfg['rate_duration_s']} --rps=RATE/{cfg['conns']}` "
              "(h2load's `--rps` paces each connection; percentiles from its per-request `--log-file`). "
              "A run that fell more than 5% short of its target could not keep up: its latencies understate "
              "the truth (coordinated omission).")
    md.append("")
    def achieved(f):
        a, t = f["achieved_rps"], f["target_rps"]
        short = isinstance(a, (int, float)) and isinstance(t, (int, float)) and t and a < 0.95 * t
        return fmt(a, "{:.0f}") + (" (short of target)" if short else "")

    md.append(md_table(["handler", "server", "target req/s", "achieved req/s", "p50 ms", "p99 ms", "p99.9 ms",
                        "failed"],
                       [[f["handler"], f["server"], f["target_rps"], achieved(f),
                         fmt(f["latency_ms"]["p50"], "{:.3f}"), fmt(f["latency_ms"]["p99"], "{:.3f}"),
                         fmt(f["latency_ms"]["p999"], "{:.3f}"), f["failed"]] for f in doc["fixed_rate"]]))
    md.append("")

    md.append("## Start-up (hello world)")
    md.append("")
    rows = []
    for s in doc["startup"]:
        f2, sr = s["first_200_ms"], s["worker_spawn_to_ready_ms"]
        rows.append([s["server"], s["variant"], s["runs"],
                     f"{f2['median']:.1f} ({f2['min']:.1f}–{f2['max']:.1f})" if f2 else "-",
                     f"{sr['median']:.1f} ({sr['min']:.1f}–{sr['max']:.1f})" if sr else "n/a"])
    md.append(md_table(["server", "snapshot", "runs", "spawn → first 200 ms, median (min–max)",
                        "worker spawn_to_ready_ms, median (min–max)"], rows))
    md.append("")
    md.append("First 200: from spawning the server to the first 200 on a curl poll every ~5 ms. "
              "spawn_to_ready_ms: each isolated worker's own figure from its `worker ready` log line. "
              "`default` in the snapshot column means the binary has no snapshot on/off flag (n/a).")
    md.append("")

    md.append(f"## Memory per request in flight (timer.js held with /hold?ms={cfg['hold_ms']})")
    md.append("")
    md.append(md_table(["server", "idle RSS MB", "loaded RSS MB", "in flight", "MB per 1000 in flight",
                        "peak RSS MB", "requests", "errors", "worker survived"],
                       [[m["server"], fmt(m["idle_rss_kb"] and m["idle_rss_kb"] / 1024, "{:.1f}"),
                         fmt(m["loaded_rss_kb"] and m["loaded_rss_kb"] / 1024, "{:.1f}"), m["in_flight"],
                         fmt(m["mb_per_1000_in_flight"], "{:.1f}"),
                         fmt(m["peak_rss_kb"] and m["peak_rss_kb"] / 1024, "{:.1f}"), m["requests"], m["errors"],
                         "yes" if m["worker_survived"] else "NO"] for m in doc["memory"]]))
    md.append("")
    md.append(f"`isolated serve --workers 1 --worker-queue-size {cfg['mem_conns']}`, `wrk -c{cfg['mem_conns']}`. "
              "Idle: the worker's VmRSS after 20 warm requests. Loaded: its VmRSS at the sample (every 100 ms) "
              "with the most requests in flight (`isolated_in_flight_requests` on /metrics). "
              "MB per 1000 = (loaded − idle) × 1000 / in flight.")
    md.append("")

    md.append("## Supervisor overhead")
    md.append("")
    sup = doc["supervisor"]
    if sup["cpu_us_per_request"]:
        md.append(md_table(["handler", "server", "supervisor CPU µs/req", "workers CPU µs/req",
                            "main thread µs/req", "busiest I/O thread µs/req", "projected ceiling req/s"],
                           [[c["handler"], c["server"], fmt(c["supervisor"], "{:.1f}"), fmt(c["workers"], "{:.1f}"),
                             fmt(c.get("main_thread"), "{:.2f}"), fmt(c.get("io_thread_max"), "{:.2f}"),
                             fmt(c.get("ceiling_rps"), "{:.0f}")]
                            for c in sup["cpu_us_per_request"]]))
        md.append("")
        md.append("Per thread: the supervisor's main loop, and its busiest I/O thread (`@ioN` rows run "
                  "`--io-threads N`; with 1 the main loop does the I/O too). The projected ceiling is "
                  "1 / the busier of the two per request: the rate at which that thread would be saturated "
                  "with cores to spare.")
        md.append("")
    for prof in sup.get("profiles", []):
        if prof["profiler"] == "perf":
            how = (f"perf record -g, cpu-clock samples, {prof.get('window_s')} s of wrk, "
                   f"{prof.get('requests')} requests")
        else:
            how = (f"callgrind, {prof.get('requests')} requests from h2load -n, "
                   f"{fmt(prof.get('instructions_per_request'), '{:,.0f}')} supervisor instructions per request")
        md.append(f"Where the supervisor's CPU goes ({prof['server']}, hello world; {how}; self time; "
                  f"full report `{prof['report']}`):")
        md.append("")
        md.append(md_table(["%", "object", "function"],
                           [[fmt(f["pct"], "{:.1f}"), f"`{f['dso']}`" if f["dso"] else "",
                             f"`{f['symbol']}`"] for f in prof["top_functions"][:20]]))
        md.append("")
        user = [f for f in prof["top_functions"] if f["dso"] and not str(f["dso"]).startswith("[kernel")]
        if prof["profiler"] == "perf" and user and len(user) < len(prof["top_functions"]):
            md.append("The same, user space only (libevent, libc, Cap'n Proto, the supervisor's own code):")
            md.append("")
            md.append(md_table(["%", "object", "function"],
                               [[fmt(f["pct"], "{:.1f}"), f"`{f['dso']}`", f"`{f['symbol']}`"]
                                for f in user[:15]]))
            md.append("")
        if prof["by_object"]:
            md.append("By object: " + ", ".join(f"`{o['dso']}` {fmt(o['pct'], '{:.1f}')}%"
                                                for o in prof["by_object"]) + ".")
            md.append("")
    sc = sup.get("syscalls")
    if sc:
        md.append(f"System calls per request (`strace -c -f` on the supervisor for {sc['window_s']} s, "
                  f"{sc['requests']} requests; strace slows the supervisor, but the count per request holds):")
        md.append("")
        md.append(md_table(["syscall", "calls", "errors", "per request"],
                           [[s["syscall"], s["calls"], s["errors"], fmt(s["per_request"], "{:.3f}")]
                            for s in sc["per_request"]]))
        md.append("")
    md.append("Raw outputs (wrk, h2load, server logs, perf/strace reports): `bench/results/suite/`.")
    md.append("")
    return "\n".join(md)


# --- chart -------------------------------------------------------------------------

def nice_max(v):
    if v <= 0:
        return 1
    e = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * e:
            return m * e
    return 10 * e


def log_ticks(lo, hi):
    ticks = []
    e = math.floor(math.log10(lo))
    while 10 ** e <= hi * 10:
        for m in (1, 2, 5):
            t = m * 10 ** e
            if lo <= t <= hi:
                ticks.append(t)
        e += 1
    return ticks


def fmt_tick(v):
    if v >= 1000:
        return f"{v / 1000:g}k"
    return f"{v:g}"


class Svg:
    def __init__(self, width, height):
        self.w, self.h, self.parts = width, height, []

    def add(self, s):
        self.parts.append(s)

    def text(self, x, y, s, size=11, anchor="start", weight="normal", fill="#111", rotate=None):
        tr = f' transform="rotate({rotate} {x:.1f} {y:.1f})"' if rotate else ""
        self.add(f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
                 f'font-weight="{weight}" fill="{fill}"{tr}>{escape(str(s))}</text>')

    def line(self, x1, y1, x2, y2, stroke="#999", width=1, dash=None):
        d = f' stroke-dasharray="{dash}"' if dash else ""
        self.add(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}" '
                 f'stroke-width="{width}"{d}/>')

    def rect(self, x, y, w, h, fill, title=None, opacity=1):
        t = f"<title>{escape(title)}</title>" if title else ""
        self.add(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{max(h, 0):.1f}" '
                 f'fill="{fill}" fill-opacity="{opacity}">{t}</rect>')

    def render(self):
        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.w}" height="{self.h}" '
                f'viewBox="0 0 {self.w} {self.h}" font-family="Helvetica, Arial, sans-serif">\n'
                f'<rect width="100%" height="100%" fill="#fff"/>\n' + "\n".join(self.parts) + "\n</svg>\n")


def chart(doc):
    handlers = [h for h in doc["handlers"] if any(t["handler"] == h for t in doc["throughput"])]
    servers = sorted({t["server"] for t in doc["throughput"]}, key=server_key)
    W, left, right = 980, 70, 20
    panel_h, top_pad = 250, 80
    panels = 3
    H = top_pad + panels * (panel_h + 70) + 10
    svg = Svg(W, H)
    cfg = doc["config"]
    svg.text(left, 22, f"isolated benchmark suite — {doc['commit']}, {doc['host']['cores']} cores, "
                       f"{doc['timestamp']}", size=14, weight="bold")
    heads = [f"{k} {fmt(v['rps'])}" for k, v in doc["headline"].items() if v.get("rps") is not None]
    if heads:
        svg.text(left, 40, "hello world req/s ratios: " + ", ".join(heads), size=12, fill="#333")
    # legend
    x = left
    for s in servers:
        svg.rect(x, 52, 12, 12, COLORS.get(s, "#888"))
        svg.text(x + 16, 62, s, size=11)
        x += 24 + 7 * len(s)
    svg.text(W - right, 62, "latency: box p50–p99, whisker to p99.9", size=10, anchor="end", fill="#555")

    plot_w = W - left - right
    group_w = plot_w / max(len(handlers), 1)
    bar_w = min(40, (group_w - 30) / max(len(servers), 1))

    def group_x(hi, si):
        gx = left + hi * group_w + (group_w - bar_w * len(servers)) / 2
        return gx + si * bar_w

    def frame(y0, title):
        svg.text(left, y0 - 10, title, size=13, weight="bold")
        svg.line(left, y0 + panel_h, W - right, y0 + panel_h, stroke="#333")
        for hi, h in enumerate(handlers):
            svg.text(left + hi * group_w + group_w / 2, y0 + panel_h + 18, HANDLER_TITLES.get(h, h),
                     size=11, anchor="middle")
            if hi:
                svg.line(left + hi * group_w, y0, left + hi * group_w, y0 + panel_h, stroke="#ddd")

    # 1. throughput
    y0 = top_pad + 20
    frame(y0, f"Throughput, req/s (wrk -t1 -c{cfg['conns']} -d{cfg['duration_s']}s)")
    tp = {(t["handler"], t["server"]): t for t in doc["throughput"]}
    vmax = nice_max(max([t["rps"] or 0 for t in doc["throughput"]] + [1]))
    for i in range(6):
        v = vmax * i / 5
        y = y0 + panel_h - panel_h * v / vmax
        svg.line(left, y, W - right, y, stroke="#eee")
        svg.text(left - 6, y + 4, fmt_tick(v), size=10, anchor="end", fill="#555")
    if "timer" in handlers and cfg.get("conns"):
        # Closed loop: no server can beat CONNS requests per 5 ms.
        ceiling = cfg["conns"] / 0.005
        if ceiling <= vmax:
            hi = handlers.index("timer")
            y = y0 + panel_h - panel_h * ceiling / vmax
            svg.line(left + hi * group_w + 8, y, left + (hi + 1) * group_w - 8, y, stroke="#888", dash="4 3")
            svg.text(left + (hi + 1) * group_w - 8, y - 4, f"ceiling {cfg['conns']} conns / 5 ms",
                     size=9, anchor="end", fill="#666")
    for hi, h in enumerate(handlers):
        for si, s in enumerate(servers):
            t = tp.get((h, s))
            if not t or not t["rps"]:
                continue
            bh = panel_h * t["rps"] / vmax
            x = group_x(hi, si)
            svg.rect(x + 2, y0 + panel_h - bh, bar_w - 4, bh, COLORS.get(s, "#888"),
                     title=f"{s} {h}: {t['rps']:.0f} req/s")
            svg.text(x + bar_w / 2, y0 + panel_h - bh - 4, fmt_tick(round(t["rps"], -2) if t["rps"] >= 1000
                                                                    else round(t["rps"])),
                     size=9, anchor="middle", fill="#333")

    def latency_panel(y0, title, series):
        """series: (handler, server) -> (p50, p99, p999)"""
        frame(y0, title)
        vals = [v for trip in series.values() for v in trip if v]
        if not vals:
            return
        lo = 10 ** math.floor(math.log10(min(vals)))
        hi = 10 ** math.ceil(math.log10(max(vals) * 1.6))
        if hi <= lo:
            hi = lo * 10

        def ypos(v):
            return y0 + panel_h - panel_h * (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))

        for t in log_ticks(lo, hi):
            y = ypos(t)
            svg.line(left, y, W - right, y, stroke="#eee")
            svg.text(left - 6, y + 4, f"{t:g}", size=10, anchor="end", fill="#555")
        svg.text(18, y0 + panel_h / 2, "ms (log scale)", size=10, anchor="middle", fill="#555", rotate=-90)
        for hi_, h in enumerate(handlers):
            for si, s in enumerate(servers):
                trip = series.get((h, s))
                if not trip or not trip[0] or not trip[1]:
                    continue
                p50, p99, p999 = trip
                x = group_x(hi_, si)
                cx = x + bar_w / 2
                color = COLORS.get(s, "#888")
                if p999:
                    svg.line(cx, ypos(p99), cx, ypos(p999), stroke=color, width=2)
                    svg.line(cx - 5, ypos(p999), cx + 5, ypos(p999), stroke=color, width=2)
                svg.rect(x + 4, ypos(p99), bar_w - 8, ypos(p50) - ypos(p99), color,
                         title=f"{s} {h}: p50 {p50} ms, p99 {p99} ms, p99.9 {p999} ms")
                svg.text(cx, ypos(p999 or p99) - 4, f"{p99:.3g}", size=9, anchor="middle", fill="#333")

    y0 += panel_h + 70
    latency_panel(y0, f"Latency at fixed concurrency (wrk, {cfg['conns']} connections): p50–p99, whisker p99.9; "
                      "label = p99 ms",
                  {(t["handler"], t["server"]): (t["latency_ms"]["p50"], t["latency_ms"]["p99"],
                                                 t["latency_ms"]["p999"]) for t in doc["throughput"]})
    y0 += panel_h + 70
    latency_panel(y0, f"Latency at a fixed rate (h2load, {float(cfg.get('rate_fraction') or 0.5):.0%} of each "
                      "server's peak): p50–p99, whisker p99.9; label = p99 ms",
                  {(f["handler"], f["server"]): (f["latency_ms"]["p50"], f["latency_ms"]["p99"],
                                                 f["latency_ms"]["p999"]) for f in doc["fixed_rate"]})
    return svg.render()


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: python3 bench/render.py RECORDS.tsv OUT_DIR")
    doc = build(read_records(sys.argv[1]))
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "suite.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, ensure_ascii=False)
        f.write("\n")
    with open(os.path.join(out, "suite.md"), "w", encoding="utf-8") as f:
        f.write(markdown(doc))
    with open(os.path.join(out, "suite.svg"), "w", encoding="utf-8") as f:
        f.write(chart(doc))
    print(text_table(doc))
    print(f"\nwrote {out}/suite.json, suite.md, suite.svg", file=sys.stderr)


if __name__ == "__main__":
    main()
