"""The same gateway at a subdistrict's and at a district's worth of residents, in one run; growth per query.

    .venv/bin/python bench/scale.py            # 83,000 and 830,000 residents (the 830k data is generated
                                               # on demand under var/demo-830k, ~3 minutes, never committed)
    .venv/bin/python bench/scale.py --tiny     # 3,000 and 6,000: proves it runs (tests/bench/test_scale.py)

For each size: the demo's department services, an embedded gateway (its own audit file), the
seconds from the gateway's start until every department is up in /readyz, then each query once cold and nine times
warm (median); then a new version of the largest ledger file swapped in under a reader.
Queries: W1 and W2 of bench/run.py, a count, the two-department filtered count, a tag filter over three
departments (docs/tags.md), and district stats of persons and houses (district analyst). The report
(bench/results/scale.md) gives both sizes, the growth ratio, and the issue's targets.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.harness import gateway, token
from bench.run import W1, W2
from demo.generate import ensure_demo_data
from demo.launch import DemoServices, demo_environment
from gateway.graphql_view import TRACE_HEADER

DISTRICT = "310107"
QUERIES: list[tuple[str, str, str, str]] = [  # name, query, role, jurisdiction
    ("W1 persons(first: 1000), 3 departments", W1, "developer", "310107005"),
    ("W2 200 persons, 4 hops + 2 departments", W2, "developer", "310107005"),
    ("persons totalCount", "{ persons(first: 1) { totalCount } }", "developer", "310107005"),
    ("filtered count (ageMin 80, livingAlone)",
     "{ persons(first: 1, filter: {ageMin: 80, livingAlone: true}) { totalCount } }", "developer", "310107005"),
    ("tag filter count (elders alone, not visited in 90 days)",
     '{ persons(first: 1, filter: {tags: ["elder-living-alone"], notTags: ["visited-90-days"]}) { totalCount } }',
     "subdistrict_officer", "310107005"),
    ("stats PERSONS by committee x age band",
     "{ stats(subject: PERSONS, groupBy: [COMMITTEE, AGE_BAND]) { k cells { count } } }", "district_analyst",
     "310107005"),
    ("stats HOUSES by committee x property type",
     "{ stats(subject: HOUSES, groupBy: [COMMITTEE, PROPERTY_TYPE]) { k cells { count } } }", "district_analyst",
     "310107005"),
]
ROW_QUERIES = {QUERIES[0][0], QUERIES[1][0]}
WARM = 9  # warm calls per query (median)
ONE = "query($id: ID!) { person(id: $id) { employment { status } } }"
FLIP = {"退休": "其他", "其他": "退休", "在职": "失业", "失业": "在职", "学生": "其他"}


def swap(c: httpx.Client, base: str, tok: str, ids: Any, data: Path) -> dict[str, Any]:
    """A new version of the largest ledger file (hr_social's CSV, its first person's status changed, written
    beside it and renamed over it as an export would be) while one query reads that person's record
    every 50 ms: when the new value is first served, and the latency and errors of the calls meanwhile.
    The original file is put back afterwards."""
    path = data / "hr_social" / "employment.csv"
    original = path.read_bytes()
    lines = original.decode("utf-8-sig").split("\n")
    header = lines[0].split(",")
    row = lines[1].split(",")
    pid = ids.encode("Person", row[header.index("身份证号")].strip().upper())
    col = header.index("就业状态")
    row[col] = FLIP[row[col]]
    lines[1] = ",".join(row)

    def ask() -> tuple[float, dict[str, Any]]:
        s = time.perf_counter()
        body = c.post(base + "/graphql", json={"query": ONE, "variables": {"id": pid}},
                      headers={"Authorization": f"Bearer {tok}"}).json()
        return (time.perf_counter() - s) * 1000, body

    def status(body: dict[str, Any]) -> Any:
        return (((body.get("data") or {}).get("person") or {}).get("employment") or {}).get("status")

    before = status(ask()[1])
    staged = path.with_name(path.name + ".new")
    staged.write_bytes("\ufeff".encode() + "\n".join(lines).encode())
    times: list[float] = []
    codes: set[str] = set()
    t0 = time.perf_counter()
    os.replace(staged, path)
    seen = None
    try:
        while time.perf_counter() - t0 < 180:
            ms, body = ask()
            times.append(ms)
            codes |= {e.get("extensions", {}).get("code") for e in body.get("errors") or ()}
            if status(body) not in (None, before):
                seen = time.perf_counter() - t0
                break
            time.sleep(0.05)
    finally:
        staged.write_bytes(original)
        os.replace(staged, path)
    return {"seen_s": seen, "calls": len(times), "median_ms": statistics.median(times), "max_ms": max(times),
            "errors": sorted(x for x in codes if x)}


def run_size(data: Path, persons: int, ready_limit_s: float) -> dict[str, Any]:
    t0 = time.perf_counter()
    ensure_demo_data(data, persons=persons)
    generated_s = time.perf_counter() - t0
    svc = DemoServices(data)
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    out: dict[str, Any] = {"generated_s": generated_s, "queries": {}}
    try:
        env = demo_environment(data, svc.start())
        t1 = time.perf_counter()  # the gateway's start (it may measure fan-outs, and so wait on ledgers, first)
        srv, gw, settings = gateway(env, demo_persons=persons, audit_url=f"sqlite+aiosqlite:///{tmp / 'audit.db'}")
        try:
            with httpx.Client(timeout=300) as c:
                down: dict[str, str] = {}
                while time.perf_counter() - t1 < ready_limit_s:
                    rows = c.get(srv.base + "/readyz").json().get("adapters", [])
                    down = {r["name"]: r["status"] for r in rows if r["status"] != "up"}
                    if not down:
                        break
                    time.sleep(0.5)
                out["ready_s"], out["not_ready"] = time.perf_counter() - t1, down
                for name, q, role, jur in QUERIES:
                    tok = token(settings, role, jur)
                    times, codes = [], set()
                    for _ in range(1 + WARM):
                        s = time.perf_counter()
                        body = c.post(srv.base + "/graphql", json={"query": q},
                                      headers={"Authorization": f"Bearer {tok}"}).json()
                        times.append((time.perf_counter() - s) * 1000)
                        codes |= {e.get("extensions", {}).get("code") for e in body.get("errors") or ()}
                    # the rows the answer was made of (departments' records), from one more call with the trace
                    traced = c.post(srv.base + "/graphql", json={"query": q}, headers={
                        "Authorization": f"Bearer {tok}", TRACE_HEADER: "1"}).json()
                    rows = ((traced.get("extensions") or {}).get("trace") or {}).get("cost", {}).get("rows")
                    out["queries"][name] = {"cold_ms": times[0], "warm_ms": statistics.median(times[1:]),
                                            "rows": rows, "errors": sorted(c for c in codes if c)}
                out["swap"] = swap(c, srv.base, token(settings, "developer", "310107005"), gw.ids, data)
        finally:
            srv.stop()
    finally:
        svc.stop()
    return out


def render(sizes: list[int], runs: list[dict[str, Any]], took_s: float) -> str:
    a, b = sizes
    ra, rb = runs
    lines = [f"# bench/scale.py: {a:,} and {b:,} residents, {time.strftime('%Y-%m-%d %H:%M')}", "",
             (f"2 cores, loopback; took {took_s:.0f} s. Latency in ms: the first call (cold) and the median of "
              f"{WARM} more (warm). Growth = warm at the larger size / warm at the smaller. Rows: the departments' "
              "records the answer was made of (trace), where the role may see the trace; a row query's page "
              "is the first by ID number, which at the larger size can hold more linked records, hence its "
              "growth per row beside it."), "",
             f"- data generated in {ra['generated_s']:.0f} s / {rb['generated_s']:.0f} s (0 when it was there)",
             (f"- every department up in /readyz, from the gateway's start, after {ra['ready_s']:.1f} s / {rb['ready_s']:.1f} s"
              + (f"; not up at {b:,}: {rb['not_ready']}" if rb["not_ready"] else "")),
             *[f"- a new version of hr_social's ledger at {n:,}: " + (
                 f"served {r['swap']['seen_s']:.1f} s after the rename" if r["swap"]["seen_s"] is not None
                 else "not served within 180 s")
               + f"; meanwhile {r['swap']['calls']} calls, median {r['swap']['median_ms']:.0f} ms, max "
                 f"{r['swap']['max_ms']:.0f} ms, errors: {', '.join(r['swap']['errors']) or 'none'}"
               for n, r in ((a, ra), (b, rb))], "",
             (f"| query | cold {a:,} | warm {a:,} | cold {b:,} | warm {b:,} | rows {a:,} | rows {b:,} | growth "
              "| growth per row | target | errors |"),
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
    for name, *_ in QUERIES:
        qa, qb = ra["queries"][name], rb["queries"][name]
        growth = qb["warm_ms"] / qa["warm_ms"] if qa["warm_ms"] else float("nan")
        if name in ROW_QUERIES:
            target, met = "growth <= 1.2", growth <= 1.2
        else:
            target, met = "<= 1 s, growth <= 3", qb["warm_ms"] <= 1000 and growth <= 3
        errors = ", ".join(sorted(set(qa["errors"]) | set(qb["errors"]))) or "-"
        per_row = (f"{growth * qa['rows'] / qb['rows']:.2f}" if name in ROW_QUERIES and qa.get("rows") and qb.get("rows")
                   else "-")
        lines.append(f"| {name} | {qa['cold_ms']:.0f} | {qa['warm_ms']:.0f} | {qb['cold_ms']:.0f} | "
                     f"{qb['warm_ms']:.0f} | {qa.get('rows') or '-'} | {qb.get('rows') or '-'} | {growth:.2f} | {per_row} "
                     f"| {target}: {'met' if met and errors == '-' else 'missed'} | {errors} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiny", action="store_true", help="3,000 and 6,000 residents (proves it runs)")
    ap.add_argument("--out", type=Path, default=None, help="the Markdown report (default bench/results/scale.md)")
    a = ap.parse_args()
    sizes = [3000, 6000] if a.tiny else [83000, 830000]
    base = Path(os.environ.get("BENCH_SCALE_DIR") or (ROOT / ".pytest_cache" if a.tiny else ROOT / "var"))
    dirs = [base / f"demo-{n}" for n in sizes] if a.tiny else [base / "demo", base / "demo-830k"]
    t0 = time.perf_counter()
    runs = [run_size(d, n, 60 if a.tiny else 300) for d, n in zip(dirs, sizes, strict=True)]
    report = render(sizes, runs, time.perf_counter() - t0)
    out = a.out or ROOT / "bench" / "results" / ("scale-tiny.md" if a.tiny else "scale.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
