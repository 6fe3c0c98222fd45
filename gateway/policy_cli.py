"""`gateway policy explain|matrix|diff`: the policy files read the way the gateway applies them.

The schema is the policy layer's input, never its import: this module passes the root fields
(``Query.*``, ``Node.id``: resolvers/schema_def.py) and the field metadata (schema/model.py) in.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.settings import Settings, load_settings

if TYPE_CHECKING:
    from policies.engine import PolicyEngine

DIFF_CHANGED = 1  # exit status of `policy diff` when a decision changes (0: none; 2: an error), as diff(1)


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(Path(args.settings) if getattr(args, "settings", None) else None, None)


def cmd_policy(args: argparse.Namespace) -> int:
    from policies.engine import PolicyEngine
    from resolvers.schema_def import root_coordinates
    from schema.model import default_model

    s = _settings(args)
    model = default_model(s.adapters_dir)  # the core and every type the departments' specs declare
    roots = root_coordinates(model)
    if args.action == "diff":
        return _diff(args, s, model.meta, roots)
    engine = PolicyEngine(s.policy_dir, model.meta)
    if args.action == "explain":
        return _explain(args, engine, model.meta, roots)
    from policies.matrix import matrix, render

    rows = matrix(engine, model.meta, roots)
    print(render(rows, args.format, engine.duties(), model.titles, engine.version), end="")
    return 0


def _explain(args: argparse.Namespace, engine: PolicyEngine, meta: dict[str, dict[str, Any]], roots: list[str]) -> int:
    from policies.vocabulary import Reason

    engine.check_purpose(args.purpose)
    if args.role not in engine.roles():
        print(f"error: unknown role {args.role!r}; known: {', '.join(engine.roles())}", file=sys.stderr)
        return 2
    if args.field not in {*meta, *roots, *engine.capabilities()} and not args.field.endswith(".id"):
        print(f"error: {args.field!r} is not a schema coordinate (Type.field) or capability", file=sys.stderr)
        return 2
    d = engine.explain(args.role, args.purpose, args.field)
    found = [(t, engine.source(t)) for t in d.rules]
    rules = [f"{r.file}:{r.line}  {r.text}" if r is not None else t for t, r in found] or [d.rule]
    category = (meta.get(args.field) or {}).get("sensitive")
    note = {Reason.PURPOSE_REQUIRED: f"{category} data needs a declared purpose this role may use",
            Reason.PURPOSE_NOT_ALLOWED: f"this role may not use purpose {args.purpose} for {category} data",
            }.get(d.reason, "the field has no mask, so a masked grant cannot apply" if
                  d.reason is Reason.NO_GRANT and d.rules else "")
    print(f"{args.field} for {args.role}" + (f" (purpose {args.purpose})" if args.purpose else "")
          + f": {d.label(engine.standing_purposes(args.role))}\n  reason: {d.reason}\n  rule:   "
          + "\n          ".join(rules) + (f"\n  note:   {note}" if note else ""))
    return 0


def _diff(args: argparse.Namespace, s: Settings, meta: dict[str, dict[str, Any]], roots: list[str]) -> int:
    from policies.diff import diff
    from policies.engine import PolicyEngine
    from policies.sources import policy_source

    with policy_source(args.a, s.policy_dir) as a, policy_source(args.b, s.policy_dir) as b:
        result = diff(PolicyEngine(a.folder, meta), PolicyEngine(b.folder, meta), meta, roots, (a.name, b.name))
    if args.json:
        print(json.dumps(result.as_json(), ensure_ascii=False, indent=1))
    else:
        print(result.text(), end="")
    return DIFF_CHANGED if result.changes else 0


def policy_parser(sub: Any) -> None:
    pp = sub.add_parser("policy", help="explain decisions, print the role x field matrix, compare two versions",
                        description="Read the policy files the way the gateway applies them.")
    psub = pp.add_subparsers(dest="action", required=True, metavar="ACTION", help="one of these")
    pe = psub.add_parser("explain", help="what a role gets for one field, and which rule decided",
                         description="Explain one decision: the matrix's word, the reason and the deciding "
                         "rule(s) with their file and line.")
    pe.add_argument("--role", required=True, help="a role from the policy files")
    pe.add_argument("--purpose", help="a declared purpose (sensitive categories need one)")
    pe.add_argument("field", help="a schema coordinate such as Person.phone, or a capability such as "
                    "Gateway.trace")
    pm = psub.add_parser("matrix", help="every role x every field, for auditors",
                         description="Print what each role gets for each field and capability.")
    pm.add_argument("--format", choices=["md", "csv", "html"], default="md",
                    help="output format; html is a self-contained page (default: %(default)s)")
    pd = psub.add_parser("diff", help="the matrix cells two versions of the policy decide differently",
                         description="Compare two versions of the policy folder cell by cell, naming the rule "
                         "lines behind each change (+ only in B, - only in A). Exit 0: no decision changes; "
                         "1: some do; 2: a side cannot be read.")
    for name, example in (("a", "the old side"), ("b", "the new side")):
        pd.add_argument(name, metavar=name.upper(), help=f"{example}: a git revision of the policy folder "
                        "(HEAD~3, main, a commit), a folder, or WORKTREE (also .) for the folder in use")
    pd.add_argument("--json", action="store_true", help="print JSON instead of text")
    pp.set_defaults(fn=cmd_policy)
