"""The gateway against a hand-written floor, in one interleaved run; a Markdown table under bench/results/.

    .venv/bin/python bench/run.py            # the default demo (83k residents), ~3 minutes
    .venv/bin/python bench/run.py --tiny     # 3,000 residents, short cells: proves it runs (< 1 minute)

Servers, each its own process(es) on loopback: the floor (bench/floor.py: the same adapters
and batched calls, orjson, no GraphQL or policy), `gateway serve --demo --workers 1` and
`--workers 2`. Load comes from bench/load.py in a separate process (closed loop, kept-alive
connections). Workloads:

  W0  one person by id, 16 fields from 3 departments
  W1  1,000 persons, 15 fields from 3 departments
  W2  200 persons: person -> house -> building -> compound, + welfare + employment
  W3  W1 as a committee worker (jurisdiction scope and masks)

Latency (one connection) is measured round-robin over the workloads and servers so drift
hits every one alike; then a concurrency sweep (1, 8, 32 connections) of W0. RSS is the
resident memory of a server's processes (the demo department services not counted).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from demo.generate import ensure_demo_data
from demo.launch import DemoServices, demo_environment
from gateway.auth import issue
from gateway.embedded import free_port
from gateway.settings import load_settings

COMMITTEE = "310107005001"
P = "idNumber name gender birthDate age phone registrationType householdNumber houseCode jurisdictionCode"
DEPTS = "welfare { livingAlone careLevel } employment { status pensionStatus }"
W0 = f"query One($id: ID!) {{ person(id: $id) {{ __typename id {P} {DEPTS} }} }}"
W1 = f"{{ persons(first: 1000) {{ edges {{ node {{ {P} {DEPTS} }} }} }} }}"
W2 = (f"{{ persons(first: 200) {{ edges {{ node {{ name house {{ address building {{ name compound {{ name }} }} }} "
      f"{DEPTS} }} }} }} }}")


@dataclass
class Server:
    name: str
    workers: int
    url: str
    proc: subprocess.Popen[bytes]
    rss_mb: float = 0.0


@dataclass
class Cell:
    lat: list[float] = field(default_factory=list)
    seconds: float = 0.0
    errors: int = 0


def rss_mb(pid: int) -> float:
    """Resident memory of pid and its descendants, less the demo department services."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            cmd = Path(f"/proc/{p}/cmdline").read_bytes()
            if b"demo.services" not in cmd:
                for line in Path(f"/proc/{p}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            for t in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (t / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total / 1024


def wait_ready(url: str, body: bytes, token: str, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=30) as c:
        while time.monotonic() < deadline:
            try:
                r = c.post(url, content=body, headers={"Authorization": f"Bearer {token}",
                                                       "Content-Type": "application/json"})
                if r.status_code == 200 and r.json().get("data"):
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.5)
    raise SystemExit(f"{url} did not become ready")


def load(url: str, body: bytes, token: str, conns: int, seconds: float, warmup: float) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        f.write(body)
        f.flush()
        out = subprocess.run([sys.executable, str(ROOT / "bench" / "load.py"), url, f.name, token, "--conns",
                              str(conns), "--seconds", str(seconds), "--warmup", str(warmup)],
                             capture_output=True, check=True, timeout=seconds + warmup + 120)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def stats(cell: Cell) -> tuple[float, float, float, float]:
    lat = sorted(cell.lat) or [float("nan")]
    q = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) > 1 else [lat[0]] * 99
    return q[49], q[89], q[98], len(cell.lat) / cell.seconds if cell.seconds else 0.0


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiny", action="store_true", help="3,000 residents and short cells (< 1 minute)")
    ap.add_argument("--out", type=Path, default=None, help="the Markdown report (default bench/results/run.md)")
    a = ap.parse_args()
    persons = 3000 if a.tiny else 83000
    data = Path(os.environ.get("BENCH_DEMO_DIR") or (ROOT / ".pytest_cache" / "demo-3000" if a.tiny
                                                       else ROOT / "var" / "demo"))
    rounds, cell_s, warm_s = (1, 0.4, 0.1) if a.tiny else (5, 1.0, 0.3)
    sweep_s = 0.4 if a.tiny else 4.0
    out = a.out or ROOT / "bench" / "results" / ("tiny.md" if a.tiny else "run.md")
    ensure_demo_data(data, persons=persons)
    tmp = Path(tempfile.mkdtemp(prefix="bench-run-"))
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    gw_env = {**base_env, "GATEWAY_DEMO_DIR": str(data), "GATEWAY_DEMO_PERSONS": str(persons),
              "GATEWAY_LOG_FORMAT": "json", "GATEWAY_AUDIT_URL": f"sqlite+aiosqlite:///{tmp / 'audit.db'}"}
    settings = load_settings(env={})
    dev = issue(settings, "bench", ["developer"], "310107005")
    worker = issue(settings, "bench", ["committee_worker"], COMMITTEE)
    svc = DemoServices(data)
    servers: list[Server] = []
    t_start = time.perf_counter()
    try:
        floor_env = {**base_env, **demo_environment(data, svc.start())}
        port = free_port()
        servers.append(Server("floor", 1, f"http://127.0.0.1:{port}", start(
            [sys.executable, str(ROOT / "bench" / "floor.py"), "--port", str(port)], floor_env, tmp / "floor.log")))
        gateway_bin = str(Path(sys.executable).parent / "gateway")
        for n in (1, 2):
            port = free_port()
            servers.append(Server("gateway", n, f"http://127.0.0.1:{port}", start(
                [gateway_bin, "serve", "--demo", "--port", str(port), "--workers", str(n)], gw_env,
                tmp / f"gateway-{n}.log")))
        first = json.dumps({"query": "{ persons(first: 1) { edges { node { id } } } }"}).encode()
        for s in servers[1:]:
            wait_ready(s.url + "/graphql", first, dev)
        wait_ready(servers[0].url + "/w1?first=1", b"{}", dev)
        r = httpx.post(servers[1].url + "/graphql", content=first, headers={"Authorization": f"Bearer {dev}",
                                                                           "Content-Type": "application/json"})
        node = r.json()["data"]["persons"]["edges"][0]["node"]
        w0 = json.dumps({"query": W0, "variables": {"id": node["id"]}}).encode()
        workloads: dict[str, tuple[bytes, str, str]] = {  # gateway body, token, floor path
            "W0": (w0, dev, f"/w0?id={node['id']}"),
            "W1": (json.dumps({"query": W1}).encode(), dev, "/w1"),
            "W2": (json.dumps({"query": W2}).encode(), dev, "/w2"),
            "W3": (json.dumps({"query": W1}).encode(), worker, f"/w3?scope={COMMITTEE}"),
        }
        targets = servers[:2]  # latency: the floor and the gateway on one worker
        cells: dict[tuple[str, str], Cell] = {}
        for _ in range(rounds):
            for w, (body, tok, fpath) in workloads.items():
                for s in targets:
                    url = s.url + (fpath if s.name == "floor" else "/graphql")
                    res = load(url, body, tok, 1, cell_s, warm_s)
                    c = cells.setdefault((w, s.name), Cell())
                    c.lat += res["latencies"]
                    c.seconds += res["seconds"]
                    c.errors += res["error_count"]
                    s.rss_mb = max(s.rss_mb, rss_mb(s.proc.pid))
        sweep: dict[tuple[str, int, int], Cell] = {}
        for conns in (1, 8, 32):
            for s in servers:
                url = s.url + (workloads["W0"][2] if s.name == "floor" else "/graphql")
                res = load(url, w0, dev, conns, sweep_s, warm_s)
                sweep[(s.name, s.workers, conns)] = Cell(res["latencies"], res["seconds"], res["error_count"])
                s.rss_mb = max(s.rss_mb, rss_mb(s.proc.pid))
        report = render(cells, sweep, servers, a.tiny, persons, time.perf_counter() - t_start)
    finally:
        for s in servers:
            stop(s.proc)
        svc.stop()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    print(report)


def render(cells: dict[tuple[str, str], Cell], sweep: dict[tuple[str, int, int], Cell], servers: list[Server],
           tiny: bool, persons: int, took_s: float) -> str:
    lines = [f"# bench/run.py{' --tiny' if tiny else ''}: {persons:,} residents, {time.strftime('%Y-%m-%d %H:%M')}",
             "", (f"{os.cpu_count()} cores, loopback; took {took_s:.0f} s. Latency in ms. No chart "
             "(matplotlib is not a dependency)."), "",
             "## Latency, one connection (floor = hand-written Starlette endpoint, same adapters, orjson)", "",
             "| workload | server | p50 | p90 | p99 | req/s | errors | p50 / floor |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for w in ("W0", "W1", "W2", "W3"):
        floor_p50 = stats(cells[(w, "floor")])[0]
        for name in ("floor", "gateway"):
            c = cells[(w, name)]
            p50, p90, p99, rps = stats(c)
            lines.append(f"| {w} | {name} | {p50:.1f} | {p90:.1f} | {p99:.1f} | {rps:.0f} | {c.errors} | "
                         f"{p50 / floor_p50:.2f} |")
    lines += ["", "## Concurrency sweep, W0 (load generator in its own process)", "",
              "| server | workers | connections | p50 | p90 | p99 | req/s | errors |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for (name, workers, conns), c in sweep.items():
        p50, p90, p99, rps = stats(c)
        lines.append(f"| {name} | {workers} | {conns} | {p50:.1f} | {p90:.1f} | {p99:.1f} | {rps:.0f} | {c.errors} |")
    lines += ["", "## Resident memory (peak of the samples, all processes of the server)", "",
              "| server | workers | RSS MB |", "| --- | ---: | ---: |"]
    lines += [f"| {s.name} | {s.workers} | {s.rss_mb:.0f} |" for s in servers]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
