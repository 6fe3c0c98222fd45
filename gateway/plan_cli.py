"""`gateway plan canteen`: the demand heat map for the next community canteen (gateway/canteen.py).

A client of a running gateway, like `gateway ledger export`: it asks POST /graphql with the
caller's token for the protected stats per planning grid cell and for the existing canteens, so
the map shows exactly what that caller may see (and both requests are audited there).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import httpx

DEMAND = "{ stats(subject: PERSONS, groupBy: [GRID_CELL, AGE_BAND]) { k cells { gridCell ageBand count } } }"
CANTEENS = """query($after: String) { committees(first: 200, after: $after) {
  pageInfo { hasNextPage endCursor } edges { node { facilities { facilityId name kind longitude latitude } } } } }"""


class Refused(Exception):
    pass


def _ask(client: httpx.Client, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    r = client.post("/graphql", json={"query": query, "variables": variables or {}})
    try:
        body = r.json()
    except ValueError:
        raise Refused(f"HTTP {r.status_code}") from None
    if body.get("errors"):
        e = body["errors"][0]
        raise Refused(f"[{(e.get('extensions') or {}).get('code')}] {e.get('message')}")
    return body["data"]  # type: ignore[no-any-return]


def cmd_canteen(args: argparse.Namespace) -> int:
    from gateway.canteen import REACH_M, demand, proposals, render
    from gateway.ledger_cli import caller_token

    token = caller_token(args)
    if not token:
        return 2
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(base_url=args.url.rstrip("/"), headers=headers, timeout=120) as client:
            need = demand(_ask(client, DEMAND)["stats"]["cells"])
            canteens: list[dict[str, Any]] = []
            after = None
            while True:
                page = _ask(client, CANTEENS, {"after": after})["committees"]
                canteens += [f for c in page["edges"] for f in c["node"].get("facilities") or ()
                             if f.get("kind") == "CANTEEN"]
                if not page["pageInfo"]["hasNextPage"]:
                    break
                after = page["pageInfo"]["endCursor"]
    except Refused as e:
        print(f"error {e}", file=sys.stderr)
        return 1
    except httpx.HTTPError as e:
        print(f"error: cannot reach the gateway at {args.url} ({type(e).__name__})", file=sys.stderr)
        return 1
    if not need:
        print("error: no residents aged 60+ with located buildings in the caller's jurisdiction", file=sys.stderr)
        return 1
    located = [(str(f["facilityId"]), float(f["longitude"]), float(f["latitude"])) for f in canteens
               if isinstance(f.get("longitude"), float) and isinstance(f.get("latitude"), float)]
    sites = proposals(need, [(lon, lat) for _, lon, lat in located], args.proposals)
    render(need, located, sites, Path(args.out), f"Canteen demand: residents 60+ per 250 m cell, {len(located)} "
           f"canteens, {len(sites)} proposals")
    print(f"{sum(need.values())} residents aged 60+ in {len(need)} grid cells; canteens: "
          + ", ".join(f"{f['facilityId']} {f['name']}" for f in canteens))
    if not sites:
        print(f"no proposal: every resident aged 60+ lives within {REACH_M:.0f} m of a canteen")
    for i, s in enumerate(sites, 1):
        print(f"proposal {i}: cell {s.cell} at {s.longitude:.5f},{s.latitude:.5f} covers {s.covers} residents aged "
              "60+ no canteen reaches")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def plan_parser(sub: Any) -> None:
    pp = sub.add_parser("plan", help="planning maps from the protected stats", description="Planning from the "
                        "protected statistics of a running gateway (docs/planning.md).")
    psub = pp.add_subparsers(dest="action", required=True, metavar="ACTION", help="one of these")
    pc = psub.add_parser("canteen", help="heat map of canteen demand with existing canteens and proposed sites",
                         description="Render residents aged 60+ per 250 m grid cell as a PNG, mark the existing "
                                     "community canteens and propose the cells that reach the most unserved demand.")
    pc.add_argument("--url", default="http://127.0.0.1:8000", help="the gateway (default: %(default)s)")
    pc.add_argument("--token", help="the caller's JWT (default: $GATEWAY_TOKEN); needs stats by GRID_CELL and "
                    "Committee.facilities, e.g. a subdistrict officer")
    pc.add_argument("--proposals", type=int, default=3, help="sites to propose (default: %(default)s)")
    pc.add_argument("-o", "--out", default="canteen.png", help="the PNG to write (default: %(default)s)")
    pc.set_defaults(fn=cmd_canteen)
