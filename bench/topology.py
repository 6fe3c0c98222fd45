"""Load over the deployment topology: nginx in front of 3 gateway processes sharing Redis, against 1.

    .venv/bin/python bench/topology.py                # 20 s per topology, 16 clients
    .venv/bin/python bench/topology.py --seconds 3    # proves it runs (tests/bench/test_topology.py)

Both runs use the demo's department services (83,000 residents) and the shipped nginx configuration
(deploy/nginx), loopback only. Each gateway is a `gateway serve` process (one worker) with the
response cache on (30 s) and per-role rate limits (a district analyst 60 a minute). Clients send a
mix of roles and workloads, each request from one of 40 callers:

- committee workers: a page of their committee's residents (sensitive, never cached);
- subdistrict officers: stats by committee and age band (cached);
- district analysts: district stats (cached; some beyond their rate limit);
- developers: a page of houses.

Reported per topology: requests/s, p50/p99 latency, the share of 429s, the cache hit ratio (the
replicas' gateway_response_cache_total: hits over lookups of cacheable answers) and each replica's
resident memory after the run. On a 2-core machine the load generator, nginx and the
replicas share the cores, so 3 replicas cannot be 3 times 1; the figures say what they are.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from demo.generate import ensure_demo_data
from demo.launch import DemoServices, demo_environment
from gateway.auth import issue
from gateway.settings import load_settings

GATEWAY = str(Path(sys.executable).with_name("gateway"))
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
COMMITTEES = [f"310107005{i:03d}" for i in range(1, 11)]
WORKLOADS: list[tuple[str, str, str]] = [  # role, jurisdiction ("" for the caller's committee), query
    ("committee_worker", "", "{ persons(first: 20) { totalCount edges { node { name phone age } } } }"),
    ("subdistrict_officer", "310107005",
     "{ stats(subject: PERSONS, groupBy: [COMMITTEE, AGE_BAND]) { total cells { committee ageBand count } } }"),
    ("district_analyst", "310107", "{ stats(subject: HOUSES, groupBy: [COMMITTEE, PROPERTY_TYPE]) { total } }"),
    ("developer", "310107005", "{ houses(first: 20) { totalCount edges { node { addressCode area } } } }"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[Any], what: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.1)


@contextlib.contextmanager
def topology(n: int, env: dict[str, str], tmp: Path) -> Iterator[tuple[str, list[str], list[int]]]:
    """``n`` gateway processes behind the shipped nginx; yields nginx's URL, the replicas' URLs and pids."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    procs: list[subprocess.Popen[Any]] = []
    ports = [free_port() for _ in range(n)]
    try:
        for i, port in enumerate(ports):
            e = {**env, "GATEWAY_REDIS_URL": "redis://127.0.0.1:6379/0", "GATEWAY_REDIS_PREFIX": prefix,
                 "GATEWAY_RESPONSE_CACHE_S": "30", "GATEWAY_RATE_LIMITS": "*=100000/60,district_analyst=60/60",
                 "GATEWAY_AUDIT_URL": f"sqlite+aiosqlite:///{tmp / f'audit-{n}-{i}.db'}", "GATEWAY_DEV_MODE": "true",
                 "GATEWAY_LOG_FORMAT": "json"}
            procs.append(subprocess.Popen([GATEWAY, "serve", "--port", str(port)], env=e, cwd=ROOT,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for port, p in zip(ports, procs, strict=True):
            wait_port(port, p, "a gateway")
        conf = tmp / f"nginx-{n}"
        conf.mkdir()
        front = free_port()
        text = (ROOT / "deploy" / "nginx" / "nginx.conf").read_text(encoding="utf-8")
        (conf / "nginx.conf").write_text(text.replace("listen 8080;", f"listen 127.0.0.1:{front};")
                                         .replace("pid /tmp/nginx-civic.pid;", f"pid {conf}/nginx.pid;"))
        (conf / "upstream.conf").write_text("".join(f"server 127.0.0.1:{p};\n" for p in ports))
        ngx = subprocess.Popen([NGINX, "-p", str(conf), "-c", str(conf / "nginx.conf"), "-g", "daemon off;"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(ngx)
        wait_port(front, ngx, "nginx")
        yield f"http://127.0.0.1:{front}", [f"http://127.0.0.1:{p}" for p in ports], [p.pid for p in procs[:n]]
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=30)


def callers(env: dict[str, str]) -> list[tuple[str, str]]:
    """40 callers over the four workloads: (token, query)."""
    s = load_settings(env={})
    rng = random.Random(7)
    out = []
    for i in range(40):
        role, jur, query = WORKLOADS[i % len(WORKLOADS)]
        out.append((issue(s, f"{role}-{i}", [role], jur or rng.choice(COMMITTEES), None), query))
    return out


async def drive(url: str, who: list[tuple[str, str]], seconds: float, clients: int) -> dict[str, Any]:
    lat: list[float] = []
    status: dict[int, int] = {}
    stop = time.monotonic() + seconds

    async def client(i: int) -> None:
        rng = random.Random(i)
        async with httpx.AsyncClient(base_url=url, timeout=30) as c:
            while time.monotonic() < stop:
                tok, query = rng.choice(who)
                t0 = time.perf_counter()
                r = await c.post("/graphql", json={"query": query}, headers={"Authorization": f"Bearer {tok}"})
                lat.append(time.perf_counter() - t0)
                status[r.status_code] = status.get(r.status_code, 0) + 1

    t0 = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    took = time.perf_counter() - t0
    lat.sort()
    return {"requests": len(lat), "rps": len(lat) / took, "p50_ms": 1000 * statistics.median(lat),
            "p99_ms": 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))], "status": status}


def rss_mb(pids: list[int]) -> list[float]:
    """Resident memory of each process (MB), from /proc."""
    out = []
    for pid in pids:
        with contextlib.suppress(OSError):
            text = Path(f"/proc/{pid}/status").read_text()
            m = re.search(r"^VmRSS:\s+(\d+) kB", text, re.MULTILINE)
            if m:
                out.append(int(m.group(1)) / 1024)
    return out


def cache_ratio(replicas: list[str]) -> float:
    hit = miss = 0.0
    for r in replicas:
        text = httpx.get(r + "/metrics", timeout=30).text
        for outcome, value in re.findall(r'^gateway_response_cache_total\{outcome="(hit|miss)"\} ([0-9.e+]+)$', text,
                                          re.MULTILINE):
            if outcome == "hit":
                hit += float(value)
            else:
                miss += float(value)
    return hit / (hit + miss) if hit + miss else 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--persons", type=int, default=83000)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "topology.md"))
    args = ap.parse_args()
    data = ensure_demo_data(ROOT / "var" / ("demo" if args.persons == 83000 else f"demo-{args.persons}"),
                            persons=args.persons)
    services = DemoServices(data)
    rows = []
    try:
        env = {**os.environ, **demo_environment(data, services.start())}
        env = {k: v for k, v in env.items() if not k.startswith("GATEWAY_") or k == "GATEWAY_DEMO_DIR"}
        who = callers(env)
        with tempfile.TemporaryDirectory() as tmp:
            for n in (1, 3):
                with topology(n, env, Path(tmp)) as (front, replicas, pids):
                    asyncio.run(drive(front, who, min(3.0, args.seconds), 4))  # warm: connections, caches
                    res = asyncio.run(drive(front, who, args.seconds, args.clients))
                    res["cache_hit_ratio"] = cache_ratio(replicas)
                    res["rss_mb"] = rss_mb(pids)
                    rows.append((n, res))
                    print(f"{n} replica(s): {res['rps']:.0f} req/s, p50 {res['p50_ms']:.1f} ms, "
                          f"p99 {res['p99_ms']:.1f} ms, status {res['status']}, cache hits "
                          f"{res['cache_hit_ratio']:.0%}", flush=True)
    finally:
        services.stop()
    setup = (f"{args.persons} residents, {args.clients} clients for {args.seconds:.0f} s per topology, 40 callers in "
             f"4 roles, loopback, {os.cpu_count()} cores; nginx (deploy/nginx), Redis shared, response cache 30 s.")
    lines = ["# Load over nginx + gateway replicas (bench/topology.py)", "", setup, "",
             "| replicas | requests/s | p50 ms | p99 ms | 429 share | cache hit ratio | RSS per replica, MB | statuses |",
             "|---|---|---|---|---|---|---|---|"]
    for n, r in rows:
        limited = r["status"].get(429, 0) / max(1, r["requests"])
        lines.append(f"| {n} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {limited:.1%} | "
                     f"{r['cache_hit_ratio']:.0%} | {', '.join(f'{m:.0f}' for m in r['rss_mb'])} | "
                     f"{dict(sorted(r['status'].items()))} |")
    if len(rows) == 2:
        lines += ["", f"3 replicas / 1: {rows[1][1]['rps'] / rows[0][1]['rps']:.2f}x requests/s."]
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
