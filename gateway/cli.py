"""`gateway ...`: serve, demo-data, token, adapters, schema, policy, audit, ledger, alerts, plan."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from common.errors import GatewayError
from gateway.adapters_cli import adapters_parser
from gateway.alerts_cli import alerts_parser
from gateway.ledger_cli import ledger_parser
from gateway.plan_cli import plan_parser
from gateway.policy_cli import policy_parser
from gateway.settings import PROJECT, Settings, load_settings

DEMO_SUBDISTRICT = "310107005"


def _settings(args: argparse.Namespace, **kw: object) -> Settings:
    return load_settings(Path(args.settings) if getattr(args, "settings", None) else None, None, **kw)


def cmd_serve(args: argparse.Namespace) -> int:
    from gateway.serve import serve

    return serve(_settings(args, host=args.host, port=args.port, workers=args.workers,
                           dev_mode=True if args.demo else None), demo=args.demo)


def cmd_demo_data(args: argparse.Namespace) -> int:
    from demo.generate import ensure_demo_data, to_stderr

    s = _settings(args)
    d = Path(args.dir) if args.dir else s.demo_dir
    t0 = time.perf_counter()
    ensure_demo_data(d, persons=args.persons if args.persons is not None else s.demo_persons,
                     seed=args.seed if args.seed is not None else s.demo_seed, progress=to_stderr)
    print(f"demo data in {d} ({time.perf_counter() - t0:.1f} s)")
    if args.target:
        from sqlalchemy.exc import SQLAlchemyError

        from demo.servers import load_sync

        try:
            env = load_sync(d, args.target, args.prefix)
        except (ValueError, OSError, SQLAlchemyError) as e:
            print(f"error: cannot load into {args.target}: {e}", file=sys.stderr)
            return 1
        print(f"SQL departments loaded into {args.target} ({time.perf_counter() - t0:.1f} s); point the specs at "
              "them with:")
        for var, url in env.items():
            print(f"export {var}='{url}'")
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from gateway.auth import issue
    from policies.engine import PolicyEngine

    s = _settings(args)
    engine = PolicyEngine(s.policy_dir)
    known = set(engine.roles())
    bad = [r for r in args.role if r not in known]
    if bad:
        print(f"error: unknown role(s) {bad}; known: {', '.join(sorted(known))}", file=sys.stderr)
        return 2
    engine.check_purpose(args.purpose)
    print(issue(s, args.user, args.role, args.jurisdiction, args.purpose, args.ttl))
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from resolvers.schema_def import sdl
    from schema.model import default_model

    s = _settings(args)
    out = Path(args.output) if args.output else PROJECT / "schema" / "schema.graphql"
    out.write_text(sdl(default_model(s.adapters_dir)), encoding="utf-8")
    print(f"wrote {out}")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from gateway.audit.commands import run

    return run(_settings(args), args)


def audit_parser(sub: Any) -> None:
    """`gateway audit ...`: verify the chain and answer an auditor's questions (docs/audit.md)."""
    au = sub.add_parser("audit", help="verify the audit chain, query the audit log",
                        description="The tamper-evident audit log of every request (store: setting audit_url).")
    asub = au.add_subparsers(dest="action", required=True, metavar="ACTION", help="one of these")
    av = asub.add_parser("verify", help="walk the chain and checkpoints; exit 1 naming the first bad position",
                         description="Check every record's hash and link and every signed checkpoint.")
    av.add_argument("--public-key", metavar="FILE", help="PEM of the checkpoint key (public, or the private key "
                    "file); default: the key of setting audit_signing_key")
    aq = asub.add_parser("query", help="records by user, time, field and outcome, newest first",
                         description="List audit records matching every filter given.")
    aq.add_argument("--user", help="the caller's user id")
    aq.add_argument("--since", metavar="T", help="at or after T: 2026-11-22, 2026-11-22T08:00 (UTC) or 24h, 7d")
    aq.add_argument("--until", metavar="T", help="before T (same forms as --since)")
    aq.add_argument("--field", metavar="COORDINATE", help="requests that asked this field, e.g. Person.idNumber")
    aq.add_argument("--outcome", metavar="CODE", help="ok, error or an error code such as QUERY_TOO_COSTLY")
    aq.add_argument("--limit", type=int, default=100, metavar="N", help="at most N records (default: %(default)s)")
    asj = asub.add_parser("subject", help="who read this person's data: when, which fields, which purpose",
                          description="Every release of one person's identity or sensitive-category data.")
    asj.add_argument("--id-number", required=True, metavar="N", help="the person's ID number (hashed with "
                     "audit_key before the look-up; never stored)")
    asj.add_argument("--limit", type=int, default=1000, metavar="N", help="at most N releases (default: "
                     "%(default)s)")
    asm = asub.add_parser("summary", help="per user: distinct persons read on a day against their 30-day median",
                          description="Flag unusual volumes: more than 3x the user's own 30-day median and > 20.")
    asm.add_argument("--day", required=True, metavar="YYYY-MM-DD", help="the day (UTC)")
    asub.add_parser("migrate", help="create or upgrade the audit store's tables (the gateway does it at start)",
                    description="Apply the audit store's Alembic migrations.")
    for p in (av, aq, asj, asm):
        p.add_argument("--json", action="store_true", help="print JSON instead of text")
    au.set_defaults(fn=cmd_audit, json=False)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gateway", description="Civic data gateway: one GraphQL endpoint over the "
                                "systems of fifteen municipal departments and the residents' committees' records.")
    p.add_argument("--settings", metavar="FILE", help="TOML settings file (keys and defaults in gateway/settings.py; "
                   "GATEWAY_<KEY> variables override it)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND",
                         help="one of these; `gateway COMMAND --help` shows its options")

    sp = sub.add_parser("serve", help="run the gateway", description="Validate every spec and policy, then serve "
                        "/graphql, /healthz, /readyz and /metrics.")
    sp.add_argument("--demo", action="store_true", help="generate (or reuse) the demo data, start the seven demo "
                    "department services and serve in demo mode")
    sp.add_argument("--host", help="interface to listen on (default: setting host, 127.0.0.1)")
    sp.add_argument("--port", type=int, help="port to listen on; 0 picks a free one (default: setting port, 8000)")
    sp.add_argument("--workers", type=int, metavar="N", help="uvicorn worker processes (default: setting "
                    "workers, 1)")
    sp.set_defaults(fn=cmd_serve)

    dp = sub.add_parser("demo-data", help="generate the demo subdistrict (cached)",
                        description="Generate the synthetic demo subdistrict unless the folder already holds it.")
    dp.add_argument("--dir", help="where to write it (default: setting demo_dir, var/demo)")
    dp.add_argument("--persons", type=int, help="number of residents (default: setting demo_persons, 83000)")
    dp.add_argument("--seed", type=int, help="random seed; the same seed gives the same data (default: setting "
                    "demo_seed)")
    dp.add_argument("--target", metavar="URL", help="also load the SQL departments into this database server: "
                    "postgresql://user@host:port/ or mysql://user@host:port/ (MariaDB), one database per department")
    dp.add_argument("--prefix", default="civic", help="name prefix of those databases (default: %(default)s)")
    dp.set_defaults(fn=cmd_demo_data)

    tp = sub.add_parser("token", help="print a demo-signed JWT", description="Print a JWT signed with the "
                        "configured key (jwt_secret), for trying the gateway.")
    tp.add_argument("--user", required=True, help="the caller's user id (the `sub` claim)")
    tp.add_argument("--role", required=True, action="append", help="a role from the policy files; repeat for "
                    "several roles")
    tp.add_argument("--jurisdiction", default=DEMO_SUBDISTRICT, metavar="CODE",
                    help="jurisdiction code of the caller's post (default: %(default)s, the demo subdistrict)")
    tp.add_argument("--purpose", help="declared purpose, needed for sensitive categories (see policies/purposes.csv)")
    tp.add_argument("--ttl", type=int, default=8 * 3600, metavar="SECONDS",
                    help="lifetime in seconds (default: %(default)s)")
    tp.set_defaults(fn=cmd_token)

    adapters_parser(sub)

    sc = sub.add_parser("schema", help="schema tools", description="The public GraphQL contract.")
    ssub = sc.add_subparsers(dest="action", required=True, metavar="ACTION", help="one of these")
    se = ssub.add_parser("export", help="write the SDL of the schema", description="Write the schema's SDL.")
    se.add_argument("-o", "--output", metavar="FILE", help="where to write it (default: schema/schema.graphql)")
    sc.set_defaults(fn=cmd_schema)

    policy_parser(sub)

    ledger_parser(sub)

    audit_parser(sub)

    alerts_parser(sub)

    plan_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.fn(args))
    except GatewayError as e:
        print(f"error [{e.code}]: {e.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
