"""One department frozen (SIGSTOP), 48 simultaneous queries: bounded by the timeout, others unhurt.

    .venv/bin/python -m bench.frozen_department [--persons 83000]

Reports the slowest of 48 queries touching housing against the department timeout, and the
p50 of a query that never touches housing with vs without the fault (the ratio).
"""
from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench.harness import demo_departments, gateway, timed, token

TOUCHES = "{ persons(first: 50) { edges { node { name house { address } welfare { livingAlone } } } } }"
UNAFFECTED = "{ persons(first: 50) { edges { node { name welfare { livingAlone } } } } }"
N = 48


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def burst(client: httpx.Client, base: str, query: str, tok: str, n: int) -> list[float]:
    with ThreadPoolExecutor(n) as ex:
        return [ms for ms, _ in ex.map(lambda _: timed(client, base, query, tok), range(n))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=83000)
    a = ap.parse_args()
    with demo_departments(a.persons) as env:
        data = env["GATEWAY_DEMO_DIR"]
        port = free_port()  # a housing service of our own, to freeze
        proc = subprocess.Popen([sys.executable, "-m", "demo.services", "housing", "--port", str(port),
                                 "--data-dir", data], stdin=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}"
            while True:
                try:
                    if httpx.get(url + "/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            srv, gw, settings = gateway({**env, "HOUSING_URL": url})
            timeout_s = next(x for x in gw.registry if x.name == "housing").timeout_s
            tok = token(settings, "developer")
            with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=N)) as client:
                while client.get(srv.base + "/readyz").json()["status"] == "starting":
                    time.sleep(0.2)
                for _ in range(3):
                    burst(client, srv.base, TOUCHES, tok, 8)
                calm = statistics.median(ms for _ in range(5) for ms in burst(client, srv.base, UNAFFECTED, tok, 8))
                os.kill(proc.pid, signal.SIGSTOP)
                try:
                    with ThreadPoolExecutor(2) as two:
                        side = two.submit(lambda: [burst(client, srv.base, UNAFFECTED, tok, 8) for _ in range(5)])
                        frozen = burst(client, srv.base, TOUCHES, tok, N)
                        faulted = statistics.median(ms for b in side.result() for ms in b)
                    t0 = time.perf_counter()
                    rz = client.get(srv.base + "/readyz")
                    rz_ms = (time.perf_counter() - t0) * 1000
                finally:
                    os.kill(proc.pid, signal.SIGCONT)
            srv.stop()
        finally:
            os.kill(proc.pid, signal.SIGCONT)
            proc.terminate()
            proc.wait(10)
    worst = max(frozen) / 1000
    print(f"housing frozen, {N} simultaneous queries: slowest {worst:.2f} s, timeout {timeout_s:.1f} s "
          f"(over by {worst - timeout_s:+.2f} s), p50 {statistics.median(frozen) / 1000:.2f} s")
    print(f"unaffected query p50: {calm:.1f} ms without the fault, {faulted:.1f} ms with it "
          f"(ratio {faulted / calm:.2f})")
    print(f"/readyz with housing frozen: HTTP {rz.status_code} in {rz_ms:.0f} ms")


if __name__ == "__main__":
    os.environ.setdefault("BENCH_DEMO_DIR", str(Path(__file__).resolve().parent.parent / "var" / "demo"))
    main()
