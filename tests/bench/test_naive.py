"""bench/naive.py answers the W0-W3 query texts of bench/run.py with the same rows as bench/floor.py."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.auth import issue
from gateway.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
import floor
import naive
import run


async def test_naive_answers_what_the_floor_answers(demo_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in demo_env.items():
        if os.environ.get(k) != v:
            monkeypatch.setenv(k, v)
    settings = load_settings(env={})
    dev = issue(settings, "bench", ["developer"], "310107005")
    worker = issue(settings, "bench", ["committee_worker"], run.COMMITTEE)
    napp, fapp = naive.create_naive_app(), floor.create_floor_app()
    async with napp.router.lifespan_context(napp), fapp.router.lifespan_context(fapp), \
            httpx.AsyncClient(transport=httpx.ASGITransport(napp), base_url="http://naive", timeout=60) as n, \
            httpx.AsyncClient(transport=httpx.ASGITransport(fapp), base_url="http://floor", timeout=60) as f:

        async def gql(query: str, token: str, **variables: Any) -> dict[str, Any]:
            r = await n.post("/graphql", json={"query": query, "variables": variables},
                             headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200 and "errors" not in r.json(), r.text[:500]
            return r.json()  # type: ignore[no-any-return]

        async def rest(path: str, token: str, drop_ids: bool) -> dict[str, Any]:
            body = (await f.post(path, headers={"Authorization": f"Bearer {token}"})).json()
            for e in body["data"].get("persons", {}).get("edges", []) if drop_ids else []:
                del e["node"]["id"]  # the floor's /w1 adds ids W1 does not ask for
            return body  # type: ignore[no-any-return]

        pid = (await gql("{ persons(first: 1) { edges { node { id } } } }", dev))["data"]["persons"]["edges"][0][
            "node"]["id"]
        assert await gql(run.W0, dev, id=pid) == await rest(f"/w0?id={pid}", dev, False)
        w1 = await gql(run.W1, dev)
        assert len(w1["data"]["persons"]["edges"]) == 1000 and w1 == await rest("/w1", dev, True)
        assert await gql(run.W2, dev) == await rest("/w2", dev, False)
        w3 = await gql(run.W1, worker)
        assert w3 == await rest(f"/w3?scope={run.COMMITTEE}", worker, True)
        assert 0 < len(w3["data"]["persons"]["edges"]) < 1000
        assert all(e["node"]["jurisdictionCode"].startswith(run.COMMITTEE) for e in w3["data"]["persons"]["edges"])
