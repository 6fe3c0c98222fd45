"""Authorization overhead: the same 1,000-person query with the demo policies vs. allow-all.

    .venv/bin/python bench/authz_overhead.py [--runs 20]

Both gateways run in this process over the same departments; runs are interleaved so
drift hits both alike. Prints the medians, their ratio and Casbin calls per request.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import demo_departments, gateway, timed, token

from resolvers.access import AllowAll

QUERY = """{ persons(first: 1000) { edges { node { id name idNumber phone age gender
  house { address jurisdictionCode } welfare { livingAlone careLevel } employment { status } } } } }"""
ROLE = "subdistrict_officer"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    with demo_departments() as env:
        demo_srv, demo_gw, settings = gateway(env)
        open_srv, _, _ = gateway(env, engine=AllowAll())
        tok = token(settings, ROLE)
        times: dict[str, list[float]] = {"policies": [], "allow_all": []}
        calls: list[int] = []
        with httpx.Client(timeout=120) as c:
            for _ in range(3):  # warm both (connections, caches, ledger indexes)
                timed(c, demo_srv.base, QUERY, tok)
                timed(c, open_srv.base, QUERY, tok)
            _, body = timed(c, demo_srv.base, QUERY, tok)
            assert len(body["data"]["persons"]["edges"]) == 1000, body.get("errors")
            for _ in range(args.runs):
                before = demo_gw.engine.casbin_calls
                times["policies"].append(timed(c, demo_srv.base, QUERY, tok)[0])
                calls.append(demo_gw.engine.casbin_calls - before)
                times["allow_all"].append(timed(c, open_srv.base, QUERY, tok)[0])
        demo_srv.stop()
        open_srv.stop()
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"1,000 persons as {ROLE}, median of {args.runs}:")
    print(f"  demo policies : {med['policies']:.1f} ms")
    print(f"  allow-all     : {med['allow_all']:.1f} ms")
    print(f"  ratio         : {med['policies'] / med['allow_all']:.3f}")
    print(f"  Casbin calls per request after warm-up: max {max(calls)}, total {sum(calls)} over {len(calls)}")


if __name__ == "__main__":
    main()
