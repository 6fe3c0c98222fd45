"""`gateway ...`: serve, demo-data, token, adapters, schema, policy."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from common.errors import GatewayError
from gateway.settings import PROJECT, Settings, load_settings

DEMO_SUBDISTRICT = "310107005"


def _settings(args: argparse.Namespace, **kw: object) -> Settings:
    return load_settings(Path(args.settings) if getattr(args, "settings", None) else None, None, **kw)


def cmd_serve(args: argparse.Namespace) -> int:
    from gateway.serve import serve

    return serve(_settings(args, host=args.host, port=args.port, workers=args.workers,
                           dev_mode=True if args.demo else None), demo=args.demo)


def cmd_demo_data(args: argparse.Namespace) -> int:
    from demo.generate import ensure_demo_data

    s = _settings(args)
    d = Path(args.dir) if args.dir else s.demo_dir
    t0 = time.perf_counter()
    ensure_demo_data(d, persons=args.persons if args.persons is not None else s.demo_persons,
                     seed=args.seed if args.seed is not None else s.demo_seed)
    print(f"demo data in {d} ({time.perf_counter() - t0:.1f} s)")
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


def cmd_adapters(args: argparse.Namespace) -> int:
    from adapters.registry import load_specs
    from schema.build import catalogue

    s = _settings(args)
    root = Path(args.path) if getattr(args, "path", None) else s.adapters_dir
    loaded = load_specs(root, catalogue(), os.environ)
    if args.action == "validate":
        for ls in loaded:
            print(f"ok  {ls.name:16} {ls.spec.kind:7} {', '.join(ls.maps)}  ({ls.path})")
        print(f"{len(loaded)} spec(s) valid")
        return 0
    rows = [{"name": ls.name, "department": ls.spec.title, "kind": ls.spec.kind, "entities": list(ls.maps),
             "spec": str(ls.path)} for ls in loaded]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        for r in rows:
            print(f"{r['name']:16} {r['kind']:7} {', '.join(r['entities']):40} {r['department']}")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from resolvers.schema_def import sdl

    out = Path(args.output) if args.output else PROJECT / "schema" / "schema.graphql"
    out.write_text(sdl(), encoding="utf-8")
    print(f"wrote {out}")
    return 0


def cmd_policy(args: argparse.Namespace) -> int:
    from policies.engine import PolicyEngine
    from policies.matrix import matrix, render
    from schema.build import field_meta

    s = _settings(args)
    meta = field_meta()
    engine = PolicyEngine(s.policy_dir, meta)
    if args.action == "explain":
        engine.check_purpose(args.purpose)
        from policies.matrix import CAPABILITIES, ROOT_FIELDS

        known = {*meta, *ROOT_FIELDS, *CAPABILITIES}
        if args.role not in engine.roles():
            print(f"error: unknown role {args.role!r}; known: {', '.join(engine.roles())}", file=sys.stderr)
            return 2
        if args.field not in known and not args.field.endswith(".id"):
            print(f"error: {args.field!r} is not a schema coordinate (Type.field) or capability", file=sys.stderr)
            return 2
        d = engine.explain(args.role, args.purpose, args.field)
        print(f"{args.field} for {args.role}" + (f" (purpose {args.purpose})" if args.purpose else "")
              + f": {d.effect}\n  reason: {d.reason}\n  rule:   {d.rule}")
        return 0
    print(render(matrix(engine, meta), args.format))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gateway", description="Civic data gateway")
    p.add_argument("--settings", help="TOML settings file (keys as in gateway/settings.py)")
    sub = p.add_subparsers(dest="command", required=True)

    sp = sub.add_parser("serve", help="run the gateway")
    sp.add_argument("--demo", action="store_true", help="generate/reuse demo data and start the department services")
    sp.add_argument("--host")
    sp.add_argument("--port", type=int)
    sp.add_argument("--workers", type=int)
    sp.set_defaults(fn=cmd_serve)

    dp = sub.add_parser("demo-data", help="generate the demo subdistrict (cached)")
    dp.add_argument("--dir")
    dp.add_argument("--persons", type=int)
    dp.add_argument("--seed", type=int)
    dp.set_defaults(fn=cmd_demo_data)

    tp = sub.add_parser("token", help="print a demo-signed JWT")
    tp.add_argument("--user", required=True)
    tp.add_argument("--role", required=True, action="append", help="repeat for several roles")
    tp.add_argument("--jurisdiction", default=DEMO_SUBDISTRICT)
    tp.add_argument("--purpose")
    tp.add_argument("--ttl", type=int, default=8 * 3600, help="seconds")
    tp.set_defaults(fn=cmd_token)

    ap = sub.add_parser("adapters", help="list or validate adapter specs")
    asub = ap.add_subparsers(dest="action", required=True)
    al = asub.add_parser("list")
    al.add_argument("--json", action="store_true")
    av = asub.add_parser("validate")
    av.add_argument("path", nargs="?", help="a spec file, a department folder or a folder of them")
    ap.set_defaults(fn=cmd_adapters, json=False)

    sc = sub.add_parser("schema", help="schema tools")
    ssub = sc.add_subparsers(dest="action", required=True)
    se = ssub.add_parser("export")
    se.add_argument("-o", "--output")
    sc.set_defaults(fn=cmd_schema)

    pp = sub.add_parser("policy", help="explain decisions, print the role x field matrix")
    psub = pp.add_subparsers(dest="action", required=True)
    pe = psub.add_parser("explain")
    pe.add_argument("--role", required=True)
    pe.add_argument("--purpose")
    pe.add_argument("field", help="a schema coordinate such as Person.phone")
    pm = psub.add_parser("matrix")
    pm.add_argument("--format", choices=["md", "csv", "html"], default="md")
    pp.set_defaults(fn=cmd_policy)
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
