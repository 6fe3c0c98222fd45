"""`gateway ledger list | export NAME`: the ledgers (gateway/ledgers.py) from the command line.

``export`` is a client of a running gateway: it asks ``GET /ledgers/NAME`` with the caller's token,
so the file holds exactly what that caller may see (and the export is audited there), and streams
the answer into ``--out`` (standard output without it). A refusal prints its code and exits 1.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import httpx


def cmd_list(args: argparse.Namespace) -> int:
    from gateway.cli import _settings
    from gateway.ledgers import load

    for name, ledger in load(_settings(args).ledgers_dir).items():
        print(f"{name:28} {ledger.title}  {ledger.description}")
    return 0


def caller_token(args: argparse.Namespace) -> str | None:
    """The caller's JWT of a client command (`--token`, else GATEWAY_TOKEN); None, said on stderr, without one."""
    token: str | None = args.token or os.environ.get("GATEWAY_TOKEN")
    if not token:
        print("error: give --token or set GATEWAY_TOKEN (a JWT of the caller, e.g. from `gateway token`)",
              file=sys.stderr)
    return token


def cmd_export(args: argparse.Namespace) -> int:
    token = caller_token(args)
    if not token:
        return 2
    headers = {"Authorization": f"Bearer {token}", **({"X-Purpose": args.purpose} if args.purpose else {})}
    url = f"{args.url.rstrip('/')}/ledgers/{args.name}"
    try:
        with httpx.stream("GET", url, params={"format": args.format}, headers=headers, timeout=600) as r:
            if r.status_code != 200:
                body = r.read()
                try:
                    err = httpx.Response(200, content=body).json()["errors"][0]
                    print(f"error [{err['extensions']['code']}]: {err['message']}", file=sys.stderr)
                except (ValueError, KeyError, IndexError, TypeError):
                    print(f"error: HTTP {r.status_code}", file=sys.stderr)
                return 1
            with Path(args.out).open("wb") if args.out else contextlib.nullcontext(sys.stdout.buffer) as out:
                for chunk in r.iter_bytes():
                    out.write(chunk)
    except httpx.HTTPError as e:
        print(f"error: cannot reach the gateway at {args.url} ({type(e).__name__})", file=sys.stderr)
        return 1
    if args.out:
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


def ledger_parser(sub: Any) -> None:
    lp = sub.add_parser("ledger", help="ledgers (台账): list them, export one",
                        description="Ledgers: saved queries filled for the caller and exported as CSV or XLSX.")
    lsub = lp.add_subparsers(dest="action", required=True, metavar="ACTION", help="one of these")
    ll = lsub.add_parser("list", help="the ledgers of ledgers_dir", description="Name, title and description.")
    ll.set_defaults(fn=cmd_list)
    le = lsub.add_parser("export", help="fill one for a caller and write it",
                         description="Ask a running gateway for the ledger (GET /ledgers/NAME) as the token's caller.")
    le.add_argument("name", help="the ledger's name (its file in ledgers/ without .yaml)")
    le.add_argument("--format", choices=("csv", "xlsx"), default="csv", help="file format (default: %(default)s)")
    le.add_argument("--url", default="http://127.0.0.1:8000", help="the gateway (default: %(default)s)")
    le.add_argument("--token", help="the caller's JWT (default: the GATEWAY_TOKEN environment variable)")
    le.add_argument("--purpose", help="declared purpose (X-Purpose), for ledgers of sensitive categories")
    le.add_argument("-o", "--out", metavar="FILE", help="where to write it (default: standard output)")
    le.set_defaults(fn=cmd_export)
