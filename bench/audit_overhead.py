"""Audit overhead: throughput with the audit store on vs. off in one run, and what the writer sustains.

    .venv/bin/python bench/audit_overhead.py [--rounds 6] [--per-round 300] [--concurrency 16]
                                             [--records 50000] [--pg postgresql+asyncpg://...]

1. Two gateways in this process over the same demo departments, one with the AuditStore (a SQLite
   file in a temporary folder), one with the no-op AuditSink; rounds are interleaved so drift hits
   both alike. Each round sends ``per-round`` small requests (a committee worker's page of 10
   residents with names and masked ID numbers: every one an audited, sensitive release) at
   ``concurrency``. Prints requests/s of each and the ratio off/on (aim: <= 1.10).
2. The writer alone: ``records`` typical entries (5 data subjects each) handed to an AuditStore
   as fast as possible; records/s from the first record to the last one committed (on SQLite and,
   with --pg, on PostgreSQL).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import demo_departments, token

from adapters.registry import Registry
from gateway.app import Gateway
from gateway.audit.chain import SealPolicy
from gateway.audit.keys import signer
from gateway.audit.sink import AuditSink
from gateway.audit.store import AuditStore
from gateway.embedded import EmbeddedServer
from gateway.settings import load_settings
from schema.build import catalogue

QUERY = "{ persons(first: 10) { edges { node { name idNumber gender } } } }"
ROLE, COMMITTEE = "committee_worker", "310107005001"


def serve(env: dict[str, str], folder: Path, audit: bool) -> tuple[EmbeddedServer, str]:
    s = load_settings(env={}, audit_url=f"sqlite+aiosqlite:///{folder / 'audit.db'}",
                      audit_signing_key="", audit_key="k" * 40)
    gw = Gateway(s, registry=Registry.from_dir(s.adapters_dir, catalogue(), {**os.environ, **env}),
                 audit=None if audit else AuditSink())
    return EmbeddedServer(gw), token(s, ROLE, COMMITTEE)


def burst(base: str, tok: str, n: int, concurrency: int) -> float:
    with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=concurrency)) as c:
        def one(_: int) -> None:
            r = c.post(base + "/graphql", json={"query": QUERY}, headers={"Authorization": f"Bearer {tok}"})
            assert r.status_code == 200 and "errors" not in r.json(), r.text[:300]
        t0 = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as ex:
            list(ex.map(one, range(n)))
        return time.perf_counter() - t0


def throughput(args: argparse.Namespace) -> None:
    with demo_departments() as env, tempfile.TemporaryDirectory() as tmp:
        on, tok = serve(env, Path(tmp), audit=True)
        off, _ = serve(env, Path(tmp), audit=False)
        for srv in (on, off):  # warm: connections, caches, ledgers
            burst(srv.base, tok, 50, args.concurrency)
        spent = {"on": 0.0, "off": 0.0}
        for _ in range(args.rounds):
            spent["on"] += burst(on.base, tok, args.per_round, args.concurrency)
            spent["off"] += burst(off.base, tok, args.per_round, args.concurrency)
        on.stop()
        off.stop()
    n = args.rounds * args.per_round
    rps = {k: n / v for k, v in spent.items()}
    print(f"{n} requests per gateway at concurrency {args.concurrency} ({QUERY!r} as {ROLE}):")
    print(f"  audit on  : {rps['on']:.0f} requests/s")
    print(f"  audit off : {rps['off']:.0f} requests/s")
    print(f"  ratio off/on: {rps['off'] / rps['on']:.3f} (aim <= 1.10)")


def entry(i: int) -> dict[str, object]:
    return {"at": time.time(), "request_id": f"{i:032x}", "user": f"user{i % 50}", "roles": [ROLE],
            "jurisdiction": COMMITTEE, "purpose": None, "client": "127.0.0.1", "operation_name": None,
            "coordinates": {"Query.persons": "allow", "Person.name": "allow", "Person.idNumber": "masked"},
            "adapters": ["population"], "rows": 5, "types": {"Person": 5}, "outcome": "ok", "errors": [],
            "ms": 3.2, "cost": 40, "subjects": {f"3101071980{i:08d}"[:17] + str(k) for k in range(5)}}


async def writer(url: str, n: int) -> float:
    s = load_settings(env={})
    store = AuditStore(url, b"k" * 40, signer(s), buffer=n + 1, policy=SealPolicy(1000, 10.0))
    await store.start()
    t0 = time.perf_counter()
    for i in range(n):
        store.record(entry(i))
        if i % 1000 == 0:
            await asyncio.sleep(0)  # the request path yields now and then; so does this loop
    await store.stop()
    assert store.written == n, store.written
    return n / (time.perf_counter() - t0)


def writers(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rate = asyncio.run(writer(f"sqlite+aiosqlite:///{tmp}/w.db", args.records))
        print(f"writer on SQLite: {rate:.0f} records/s ({args.records} records, 5 data subjects each)")
    if args.pg:
        rate = asyncio.run(writer(args.pg, args.records))
        print(f"writer on PostgreSQL: {rate:.0f} records/s ({args.records} records)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=6, help="interleaved rounds per gateway")
    ap.add_argument("--per-round", type=int, default=300, help="requests per round")
    ap.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    ap.add_argument("--records", type=int, default=50_000, help="records for the writer benchmark")
    ap.add_argument("--pg", metavar="URL", help="also measure the writer on this (empty) PostgreSQL database")
    args = ap.parse_args()
    writers(args)
    throughput(args)


if __name__ == "__main__":
    main()
