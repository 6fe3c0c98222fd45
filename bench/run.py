"""The gateway against a hand-written floor and a naive strawberry service, in one interleaved run.

    .venv/bin/python bench/run.py            # the default demo (83k residents), ~5 minutes
    .venv/bin/python bench/run.py --tiny     # 3,000 residents, short cells: proves it runs (about a minute)

Writes a Markdown report (bench/results/run.md, or tiny.md with --tiny, or --out) and a PNG
chart beside it (same name, .png: p50 per workload and server; requests/s against connections).

Servers, each its own process(es) on loopback, all over the same demo department services:

  floor      bench/floor.py: a hand-written Starlette endpoint per workload, the same adapters
             and batched calls, orjson, no GraphQL or policy: the least any server can do
  naive      bench/naive.py: a typical strawberry + aiodataloader service over the same
             adapters (one DataLoader per relation per request), no authorization or masking
  reference  `gateway serve --demo --workers 1` with GATEWAY_EXECUTION=reference (graphql-core)
  compiled   `gateway serve --demo --workers 1`, and `--workers 2` (the default execution)

Load comes from bench/load.py in a separate process (kept-alive connections). Workloads:

  W0  one person by id, 16 fields from 3 departments
  W1  1,000 persons, 15 fields from 3 departments
  W2  200 persons: person -> house -> building -> compound, + welfare + employment
  W3  W1 as a committee worker (jurisdiction scope; masks on the gateway)

Latency (one connection, closed loop) is measured round-robin over the workloads and the
floor, naive, reference and compiled (1 worker) so drift hits every one alike. Then a W0
concurrency sweep (closed loop, 1, 8, 32 and 64 connections, a fixed time per cell) of all
five servers, then each server's resident memory (RSS, all its processes, the department
services not counted), then W0 in open loop at 70 % of the highest rate the sweep measured
for compiled on 1 and on 2 workers (p99 at 70 % of the max rate). The report gives p50/p90/p99,
requests/s, ratios against the floor, compiled against naive (and reference) per workload,
and the 2-worker / 1-worker requests/s at 32 connections. It has no Casbin calls per request:
the gateway's /metrics exports no counter of enforcer calls.
"""
from __future__ import annotations

import argparse
import json
import math
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
WORKLOADS = ("W0", "W1", "W2", "W3")
LATENCY = ("floor", "naive", "reference", "compiled")  # one connection, on one worker each
CONNS = (1, 8, 32, 64)
OPEN_LOOP_SHARE = 0.7  # of the highest rate the sweep measured
OPEN_LOOP_CONNS = 64


@dataclass
class Server:
    name: str  # floor, naive, reference, compiled
    workers: int
    url: str
    proc: subprocess.Popen[bytes]
    rss_peak: float = 0.0
    rss_after: float = 0.0

    @property
    def graphql(self) -> bool:
        return self.name != "floor"


@dataclass
class Cell:
    lat: list[float] = field(default_factory=list)
    seconds: float = 0.0
    errors: int = 0
    rate: float = 0.0  # open loop: the rate asked for


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


def load(url: str, body: bytes, token: str, conns: int, seconds: float, warmup: float,
         rate: float | None = None) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        f.write(body)
        f.flush()
        cmd = [sys.executable, str(ROOT / "bench" / "load.py"), url, f.name, token, "--conns", str(conns),
               "--seconds", str(seconds), "--warmup", str(warmup)] + (["--rate", str(rate)] if rate else [])
        out = subprocess.run(cmd, capture_output=True, check=True, timeout=seconds + warmup + 120)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def stats(cell: Cell) -> tuple[float, float, float, float]:
    lat = sorted(cell.lat) or [float("nan")]
    q = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) > 1 else [lat[0]] * 99
    return q[49], q[89], q[98], len(cell.lat) / cell.seconds if cell.seconds else 0.0


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b and not math.isnan(a) and not math.isnan(b) else "-"


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
    ap.add_argument("--tiny", action="store_true", help="3,000 residents and short cells (about a minute)")
    ap.add_argument("--out", type=Path, default=None, help="the Markdown report (default bench/results/run.md); "
                                                          "the chart goes beside it, .png")
    a = ap.parse_args()
    persons = 3000 if a.tiny else 83000
    data = Path(os.environ.get("BENCH_DEMO_DIR") or (ROOT / ".pytest_cache" / "demo-3000" if a.tiny
                                                       else ROOT / "var" / "demo"))
    rounds, cell_s, warm_s = (1, 0.4, 0.1) if a.tiny else (5, 1.0, 0.3)
    sweep_s, sweep_warm = (0.3, 0.1) if a.tiny else (3.0, 1.0)  # a warm-up long enough to fill 64 queues
    out = a.out or ROOT / "bench" / "results" / ("tiny.md" if a.tiny else "run.md")
    ensure_demo_data(data, persons=persons)
    tmp = Path(tempfile.mkdtemp(prefix="bench-run-"))
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    gw_env = {**base_env, "GATEWAY_DEMO_DIR": str(data), "GATEWAY_DEMO_PERSONS": str(persons),
              "GATEWAY_LOG_FORMAT": "json", "GATEWAY_AUDIT_URL": f"sqlite+aiosqlite:///{tmp / 'audit.db'}"}
    notes: list[str] = []
    settings = load_settings(env={})
    dev = issue(settings, "bench", ["developer"], "310107005")
    worker = issue(settings, "bench", ["committee_worker"], COMMITTEE)
    svc = DemoServices(data)
    servers: list[Server] = []
    t_start = time.perf_counter()

    def phase(done: str) -> None:
        print(f"bench/run.py: {done} at {time.perf_counter() - t_start:.0f} s", file=sys.stderr, flush=True)
    try:
        dept_env = {**base_env, **demo_environment(data, svc.start())}
        for name, script in (("floor", "floor.py"), ("naive", "naive.py")):
            port = free_port()
            servers.append(Server(name, 1, f"http://127.0.0.1:{port}", start(
                [sys.executable, str(ROOT / "bench" / script), "--port", str(port)], dept_env, tmp / f"{name}.log")))
        gateway_bin = str(Path(sys.executable).parent / "gateway")
        for name, n in (("reference", 1), ("compiled", 1), ("compiled", 2)):
            port = free_port()
            env = {**gw_env, "GATEWAY_EXECUTION": name}
            servers.append(Server(name, n, f"http://127.0.0.1:{port}", start(
                [gateway_bin, "serve", "--demo", "--port", str(port), "--workers", str(n)], env,
                tmp / f"{name}-{n}.log")))
        first = json.dumps({"query": "{ persons(first: 1) { edges { node { id } } } }"}).encode()
        for s in servers:
            wait_ready(s.url + ("/graphql" if s.graphql else "/w1?first=1"), first, dev)
        r = httpx.post(servers[-1].url + "/graphql", content=first, headers={"Authorization": f"Bearer {dev}",
                                                                            "Content-Type": "application/json"})
        node = r.json()["data"]["persons"]["edges"][0]["node"]
        phase("servers ready")
        w0 = json.dumps({"query": W0, "variables": {"id": node["id"]}}).encode()
        workloads: dict[str, tuple[bytes, str, str]] = {  # GraphQL body, token, floor path
            "W0": (w0, dev, f"/w0?id={node['id']}"),
            "W1": (json.dumps({"query": W1}).encode(), dev, "/w1"),
            "W2": (json.dumps({"query": W2}).encode(), dev, "/w2"),
            "W3": (json.dumps({"query": W1}).encode(), worker, f"/w3?scope={COMMITTEE}"),
        }

        def url_of(s: Server, w: str) -> str:
            return s.url + ("/graphql" if s.graphql else workloads[w][2])

        targets = [s for s in servers if s.workers == 1]  # latency: one of each, on one worker
        cells: dict[tuple[str, str], Cell] = {}
        for _ in range(rounds):
            for w, (body, tok, _) in workloads.items():
                for s in targets:
                    res = load(url_of(s, w), body, tok, 1, cell_s, warm_s)
                    c = cells.setdefault((w, s.name), Cell())
                    c.lat += res["latencies"]
                    c.seconds += res["seconds"]
                    c.errors += res["error_count"]
                    s.rss_peak = max(s.rss_peak, rss_mb(s.proc.pid))
        phase("latency")
        sweep: dict[tuple[str, int, int], Cell] = {}
        for conns in CONNS:
            for s in servers:
                res = load(url_of(s, "W0"), w0, dev, conns, sweep_s, sweep_warm)
                sweep[(s.name, s.workers, conns)] = Cell(res["latencies"], res["seconds"], res["error_count"])
                s.rss_peak = max(s.rss_peak, rss_mb(s.proc.pid))
        for s in servers:
            s.rss_after = rss_mb(s.proc.pid)
            s.rss_peak = max(s.rss_peak, s.rss_after)
        phase("sweep")
        open_loop: dict[tuple[str, int], Cell] = {}
        for s in servers:
            if s.name != "compiled":
                continue
            top = max(stats(sweep[(s.name, s.workers, n)])[3] for n in CONNS)
            rate = max(1.0, round(OPEN_LOOP_SHARE * top, 1))
            res = load(url_of(s, "W0"), w0, dev, OPEN_LOOP_CONNS, sweep_s, sweep_warm, rate)
            open_loop[(s.name, s.workers)] = Cell(res["latencies"], res["seconds"], res["error_count"], rate)
        phase("open loop")
        took = time.perf_counter() - t_start
    finally:
        for s in servers:
            stop(s.proc)
        svc.stop()
    out.parent.mkdir(parents=True, exist_ok=True)
    chart = out.with_suffix(".png")
    notes.append(draw(cells, sweep, servers, chart))
    report = render(cells, sweep, open_loop, servers, a.tiny, persons, took, notes)
    out.write_text(report)
    print(report)


def draw(cells: dict[tuple[str, str], Cell], sweep: dict[tuple[str, int, int], Cell], servers: list[Server],
         path: Path) -> str:
    """The PNG chart; the report's line about it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (bars, lines) = plt.subplots(1, 2, figsize=(13, 5))
    width = 0.8 / len(LATENCY)
    for i, name in enumerate(LATENCY):
        p50 = [stats(cells[(w, name)])[0] for w in WORKLOADS]
        bars.bar([k + (i - (len(LATENCY) - 1) / 2) * width for k in range(len(WORKLOADS))], p50, width, label=name)
    bars.set_xticks(range(len(WORKLOADS)), WORKLOADS)
    bars.set_yscale("log")
    bars.set_ylabel("p50 latency, ms (log scale)")
    bars.set_title("One connection, p50 per workload")
    bars.legend()
    for s in servers:
        rps = [stats(sweep[(s.name, s.workers, n)])[3] for n in CONNS]
        lines.plot(CONNS, rps, marker="o", label=f"{s.name} ({s.workers} worker{'s' if s.workers > 1 else ''})")
    lines.set_xscale("log", base=2)
    lines.set_xticks(CONNS, [str(n) for n in CONNS])
    lines.set_xlabel("connections")
    lines.set_ylabel("requests/s")
    lines.set_title("W0, closed loop: requests/s against connections")
    lines.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return f"Chart: [{path.name}]({path.name})."


def render(cells: dict[tuple[str, str], Cell], sweep: dict[tuple[str, int, int], Cell],
           open_loop: dict[tuple[str, int], Cell], servers: list[Server], tiny: bool, persons: int, took_s: float,
           notes: list[str]) -> str:
    p50 = {k: stats(c)[0] for k, c in cells.items()}
    rps32 = {w: stats(sweep[("compiled", w, 32)])[3] for w in (1, 2)}
    lines = [f"# bench/run.py{' --tiny' if tiny else ''}: {persons:,} residents, {time.strftime('%Y-%m-%d %H:%M')}",
             "", f"{os.cpu_count()} cores, loopback; took {took_s:.0f} s. Latency in ms.", *notes, "",
             "## Summary", "",
             (f"- compiled vs naive on W1: {ratio(p50[('W1', 'naive')], p50[('W1', 'compiled')])}x "
             "(naive p50 / compiled p50, one connection; > 1: compiled is faster)"),
             f"- compiled vs reference on W1: {ratio(p50[('W1', 'reference')], p50[('W1', 'compiled')])}x",
             f"- `--workers 2` / `--workers 1` on W0 at 32 connections: {ratio(rps32[2], rps32[1])}x requests/s",
             "- Casbin calls per request: not reported (the gateway's /metrics has no counter of enforcer calls)",
             "", "## Latency, one connection (floor = hand-written Starlette endpoint, same adapters, orjson)", "",
             "| workload | server | p50 | p90 | p99 | req/s | errors | p50 / floor | p99 / floor |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for w in WORKLOADS:
        _, _, floor_p99, _ = stats(cells[(w, "floor")])
        for name in LATENCY:
            c = cells[(w, name)]
            q50, q90, q99, rps = stats(c)
            lines.append(f"| {w} | {name} | {q50:.1f} | {q90:.1f} | {q99:.1f} | {rps:.0f} | {c.errors} | "
                         f"{ratio(q50, p50[(w, 'floor')])} | {ratio(q99, floor_p99)} |")
    lines += ["", "## Compiled against naive and reference (p50 ratios, one connection; > 1: compiled is faster)", "",
              "| workload | naive / compiled | reference / compiled | compiled / floor |",
              "| --- | ---: | ---: | ---: |"]
    for w in WORKLOADS:
        c50 = p50[(w, "compiled")]
        lines.append(f"| {w} | {ratio(p50[(w, 'naive')], c50)} | {ratio(p50[(w, 'reference')], c50)} | "
                     f"{ratio(c50, p50[(w, 'floor')])} |")
    lines += ["", "## Concurrency sweep, W0, closed loop (load generator in its own process)", "",
              "| server | workers | connections | p50 | p90 | p99 | req/s | errors | req/s / floor |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for (name, workers, conns), c in sweep.items():
        q50, q90, q99, rps = stats(c)
        floor_rps = stats(sweep[("floor", 1, conns)])[3]
        lines.append(f"| {name} | {workers} | {conns} | {q50:.1f} | {q90:.1f} | {q99:.1f} | {rps:.0f} | {c.errors} | "
                     f"{ratio(rps, floor_rps)} |")
    lines += ["", (f"## W0 in open loop at {OPEN_LOOP_SHARE:.0%} of the highest rate of the sweep "
              f"({OPEN_LOOP_CONNS} connections; latency from each request's due time)"), "",
              "| server | workers | rate asked | req/s | p50 | p90 | p99 | errors |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for (name, workers), c in open_loop.items():
        q50, q90, q99, rps = stats(c)
        lines.append(f"| {name} | {workers} | {c.rate:.0f} | {rps:.0f} | {q50:.1f} | {q90:.1f} | {q99:.1f} | "
                     f"{c.errors} |")
    lines += ["", "## Resident memory (all processes of the server, the department services not counted)", "",
              "| server | workers | RSS MB after the sweep | peak RSS MB |", "| --- | ---: | ---: | ---: |"]
    lines += [f"| {s.name} | {s.workers} | {s.rss_after:.0f} | {s.rss_peak:.0f} |" for s in servers]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
