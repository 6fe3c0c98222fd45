"""/healthz latency while the most expensive query the cost budget allows runs back to back.

    .venv/bin/python bench/healthz_under_load.py [--seconds 20] [--clients 2]

The gateway runs as `gateway serve --demo` in its own process (83k residents). Floor, in the
same run: /healthz latency with the gateway idle. The heavy query is `persons(first: 1000)`
with as many field values as the budget allows (cost just under `cost_budget`), and the
fan-out query of the "Safe by default" issue is timed as a refusal.
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
FIELDS = "id name gender phone idNumber birthDate registrationType householdNumber houseCode jurisdictionCode age"
FAN_OUT = ("{ committees(first:1000){ edges{ node{ compounds{ buildings{ houses{ residents{ household{ members{"
           " household{ members{ name } } } } } } } } } } } }")


def heavy(budget: int) -> str:
    per_row = (budget - 2) // 1000 - 1  # persons + edges once; node and each field once per row
    aliases = per_row - len(FIELDS.split())
    extra = " ".join(f"a{i}: name" for i in range(aliases))
    return "{ persons(first: 1000) { edges { node { " + FIELDS + " " + extra + " } } } }"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def poll(client: httpx.Client, base: str, seconds: float) -> list[float]:
    out: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.perf_counter()
        client.get(base + "/healthz").raise_for_status()
        out.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.02)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--clients", type=int, default=2, help="concurrent clients sending the heavy query")
    args = ap.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    proc = subprocess.Popen([str(ROOT / ".venv/bin/gateway"), "serve", "--demo", "--port", str(port)], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        sys.path.insert(0, str(ROOT))
        from gateway.auth import issue
        from gateway.settings import load_settings

        settings = load_settings(env={})
        tok = issue(settings, "bench", ["developer"], "310107005")
        client = httpx.Client(timeout=120)
        deadline = time.monotonic() + 600
        while True:
            try:
                if client.get(base + "/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                sys.exit("gateway did not become ready")
            time.sleep(0.5)
        hdr = {"Authorization": f"Bearer {tok}"}
        q = heavy(settings.cost_budget)
        r = client.post(base + "/graphql", json={"query": q}, headers=hdr)
        assert r.status_code == 200 and not r.json().get("errors"), r.text[:300]
        t0 = time.perf_counter()
        r = client.post(base + "/graphql", json={"query": FAN_OUT}, headers=hdr)
        refusal_ms = (time.perf_counter() - t0) * 1000
        assert r.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"

        idle = poll(client, base, min(5.0, args.seconds / 4))
        stop = threading.Event()
        heavy_ms: list[float] = []

        def load() -> None:
            c = httpx.Client(timeout=120)
            while not stop.is_set():
                t = time.perf_counter()
                c.post(base + "/graphql", json={"query": q}, headers=hdr).raise_for_status()
                heavy_ms.append((time.perf_counter() - t) * 1000)

        threads = [threading.Thread(target=load) for _ in range(args.clients)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        busy = poll(client, base, args.seconds)
        stop.set()
        for t in threads:
            t.join()
        print("| measure | p50 ms | p99 ms | max ms | n |\n|---|---|---|---|---|")
        print(f"| /healthz idle (floor) | {pct(idle, .5):.1f} | {pct(idle, .99):.1f} | {max(idle):.1f} | {len(idle)} |")
        print(f"| /healthz under the heaviest allowed query x{args.clients} | {pct(busy, .5):.1f} | "
              f"{pct(busy, .99):.1f} | {max(busy):.1f} | {len(busy)} |")
        cost = 2 + 1000 * (1 + (settings.cost_budget - 2) // 1000 - 1)
        print(f"| heavy query (cost {cost} of {settings.cost_budget}) | "
              f"{statistics.median(heavy_ms):.0f} | {pct(heavy_ms, .99):.0f} | {max(heavy_ms):.0f} | {len(heavy_ms)} |")
        print(f"\nfan-out query refused (QUERY_TOO_COSTLY) in {refusal_ms:.1f} ms")
        print(f"ratio /healthz p99 busy / idle: {pct(busy, .99) / pct(idle, .99):.1f}")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


if __name__ == "__main__":
    main()
