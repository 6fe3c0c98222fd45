"""Latency of the 200-person federated query (5 departments, 3 kinds), median of N, with its trace.

    .venv/bin/python bench/federated_200.py [--runs 20]

Floor, in the same run: the same 200 persons with root fields only (one department).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import demo_departments, gateway, timed, token

FULL = """{ persons(first: 200) { totalCount edges { node { id name age idNumber phone
  house { address jurisdictionCode building { name compound { name } } }
  household { householdNumber } welfare { livingAlone careLevel } employment { status pensionStatus }
  veteran { category } } } } }"""
FLOOR = "{ persons(first: 200) { edges { node { id name age } } } }"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    with demo_departments() as env:
        srv, _, settings = gateway(env)
        tok = token(settings, "developer")
        full: list[float] = []
        floor: list[float] = []
        with httpx.Client(timeout=120) as c:
            for _ in range(3):
                timed(c, srv.base, FULL, tok)
            for _ in range(args.runs):
                full.append(timed(c, srv.base, FULL, tok)[0])
                floor.append(timed(c, srv.base, FLOOR, tok)[0])
            _, body = timed(c, srv.base, FULL, tok, **{"X-Gateway-Trace": "1"})
        srv.stop()
    trace = {k: v for k, v in body["extensions"]["trace"]["adapters"].items() if v["calls"]}
    print(f"200 persons, 5 departments: median {statistics.median(full):.1f} ms over {args.runs} runs "
          f"(p90 {sorted(full)[int(0.9 * len(full)) - 1]:.1f})")
    print(f"floor (population only, 3 fields): median {statistics.median(floor):.1f} ms; "
          f"ratio {statistics.median(full) / statistics.median(floor):.2f}")
    print("trace:", json.dumps(trace))


if __name__ == "__main__":
    main()
