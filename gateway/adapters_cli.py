"""`gateway adapters list|validate|check`: the departments' specs, checked strictly and against the live systems."""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from common.errors import GatewayError
from gateway.settings import Settings, load_settings


def settings_of(args: argparse.Namespace) -> Settings:
    return load_settings(Path(args.settings) if getattr(args, "settings", None) else None, None)


def kind(ls: Any) -> str:
    """The kind of system behind the adapter, as /readyz reports it (a `class` adapter names its own)."""
    return str(ls.spec.reports_kind or ls.spec.kind)


def cmd_adapters(args: argparse.Namespace) -> int:
    from adapters.registry import load_specs
    from common.errors import SpecError
    from schema.build import core

    s = settings_of(args)
    if args.action == "check":
        with demo_systems(s) as env:
            return asyncio.run(check(s, args.department, args.json, env))
    root = Path(args.path) if getattr(args, "path", None) else s.adapters_dir
    try:
        loaded = load_specs(root, core(), os.environ)
    except SpecError as e:
        return _problems(e, args.json)
    if args.action == "validate":
        if args.json:
            print(json.dumps({"ok": True, "problems": []}))
            return 0
        for ls in loaded:
            print(f"ok  {ls.name:16} {kind(ls):7} {', '.join(ls.maps)}  ({ls.path})")
        print(f"{len(loaded)} spec(s) valid")
        return 0
    rows = [{"name": ls.name, "department": ls.spec.title, "kind": kind(ls), "entities": list(ls.maps),
             "types": list(ls.spec.types), "spec": str(ls.path)} for ls in loaded]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        for r in rows:
            print(f"{r['name']:16} {r['kind']:7} {', '.join(r['entities']):40} {r['department']}")
    return 0


def _problems(e: GatewayError, as_json: bool) -> int:
    """Every problem of a SpecError: one line each (department, file:line, key, message), exit 2."""
    problems = e.details.get("problems") or [{**e.details, "message": e.message}]
    if as_json:
        print(json.dumps({"ok": False, "code": e.code, "problems": problems}, ensure_ascii=False, indent=2))
    else:
        print(f"error [{e.code}]: {len(problems)} problem(s)", file=sys.stderr)
        for p in problems:
            where = f"{p.get('path')}" + (f":{p['line']}" if p.get("line") else "")
            print(f"  {p.get('department') or '-'}  {where}  {p.get('key') or ''}: {p['message']}", file=sys.stderr)
    return 2


@contextlib.contextmanager
def demo_systems(s: Settings) -> Iterator[Mapping[str, str]]:
    """The environment to check against: as given, or the embedded demo's.

    The specs' defaults are the embedded demo's systems. When no department URL is set and
    the demo data exists, the demo's department services are started for the check (as
    `gateway serve --demo` would) and stopped after it.
    """
    from demo.generate import MANIFEST
    from demo.launch import ENV_VARS, DemoServices, demo_environment

    if any(var in os.environ for var in ENV_VARS.values()) or not (s.demo_dir / MANIFEST).exists():
        yield os.environ
        return
    print(f"checking the embedded demo in {s.demo_dir} (its department services run for the check)",
          file=sys.stderr, flush=True)
    services = DemoServices(s.demo_dir)
    try:
        yield {**os.environ, **demo_environment(s.demo_dir, services.start())}
    finally:
        services.stop()


async def check(s: Settings, department: str | None, as_json: bool, env: Mapping[str, str] | None = None) -> int:
    """Each department (or one) against its live system: exit 0 all checked and clean, 1 otherwise."""
    from adapters.guard import Defaults
    from adapters.registry import Registry
    from common.errors import SpecError
    from schema.build import core

    try:
        registry = Registry.from_dir(s.adapters_dir, core(), os.environ if env is None else env)
    except SpecError as e:
        return _problems(e, as_json)
    try:
        targets = [a for a in registry if department in (None, a.name)]
        if not targets:
            print(f"error: no department {department!r}; known: {', '.join(a.name for a in registry)}",
                  file=sys.stderr)
            return 2
        defaults = Defaults(timeout_s=s.department_timeout_s, bad_rows_ratio=s.ledger_bad_rows_ratio)
        for a in targets:
            a.configure(defaults)
        results = await asyncio.gather(*(a.check() for a in targets))
    finally:
        await registry.close()
    problems = [p.as_dict() for r in results for p in r.problems]
    ok = not problems and all(r.unreachable is None for r in results)
    if as_json:
        rows = [{"name": r.department, "status": "unreachable" if r.unreachable else "problems" if r.problems else "ok",
                 "reason": r.unreachable} for r in results]
        print(json.dumps({"ok": ok, "departments": rows, "problems": problems}, ensure_ascii=False, indent=2))
        return 0 if ok else 1
    for a, r in zip(targets, results, strict=True):
        if r.unreachable:
            print(f"DOWN  {r.department:16} {a.kind:7} not checked: the department did not answer ({r.unreachable})")
        elif not r.problems:
            print(f"ok    {r.department:16} {a.kind:7} {', '.join(a.entities)}")
        for p in r.problems:
            where = p.path + (f":{p.line}" if p.line else "")
            print(f"FAIL  {r.department:16} {a.kind:7} {where}  {p.key}: {p.message}")
    print(f"{len(results)} department(s) checked, {len(problems)} problem(s)")
    return 0 if ok else 1


def adapters_parser(sub: Any) -> None:
    ap = sub.add_parser("adapters", help="list, validate or check adapter specs",
                        description="The department adapters, from their specs.")
    asub = ap.add_subparsers(dest="action", required=True, metavar="ACTION", help="one of these")
    al = asub.add_parser("list", help="one line per department: name, kind, entities, title (--json: and the types "
                         "it declares)",
                         description="List the departments whose specs load.")
    al.add_argument("--json", action="store_true", help="print a JSON array instead of text")
    av = asub.add_parser("validate", help="check specs strictly; exit 2 naming the department, file, line and key "
                         "of every problem", description="Validate specs strictly (unknown keys, fields, types, "
                         "declarations, clashes between specs, environment); every problem is reported.")
    av.add_argument("path", nargs="?", help="a spec file, a department folder or a folder of them "
                    "(default: setting adapters_dir)")
    av.add_argument("--json", action="store_true", help="print {ok, problems: [{department, path, line, key, "
                    "message}]} instead of text")
    ac = asub.add_parser("check", help="check the specs against the live systems; exit 1 naming department, file, "
                         "line and key of every mismatch", description="Connect to each department and check that "
                         "every mapped table, column, endpoint, field, file and sheet exists, that a sample of rows "
                         "converts under the declared types and transforms, that keys are unique and place codes "
                         "well formed. With no department URL in the environment and the demo data present, the "
                         "embedded demo is checked (its department services run for the check).")
    ac.add_argument("department", nargs="?", help="one department's slug (default: every department)")
    ac.add_argument("--json", action="store_true", help="print {ok, departments, problems: [...]} instead of text")
    ap.set_defaults(fn=cmd_adapters, json=False)

