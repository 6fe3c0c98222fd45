"""The role x field matrix an auditor reads: what each role gets for each field.

>>> rows = matrix(PolicyEngine(), {"Person.name": {"department": "population", "sensitive": "identity"}})
>>> print(render(rows, "csv").splitlines()[0].split(",")[:4])
['field', 'department', 'sensitivity', 'auditor']
"""
from __future__ import annotations

import csv
import html
import io
from collections.abc import Mapping, Sequence
from typing import Any

from policies.engine import Decision, PolicyEngine
from policies.loader import PURPOSE_CATEGORIES

ROOT_FIELDS: tuple[str, ...] = (
    "Query.persons", "Query.person", "Query.houses", "Query.buildings", "Query.committees",
    "Query.shops", "Query.shop", "Query.events", "Query.node", "Query.stats", "Node.id",
)
CAPABILITIES: tuple[str, ...] = ("Gateway.trace", "Gateway.adapters", "Gateway.policies", "Gateway.audit")
_LABEL = {"allow": "allow", "mask": "masked", "deny": "denied", "aggregate": "aggregate"}
_RANK = {"deny": 0, "aggregate": 1, "mask": 2, "allow": 3}


def _cell(engine: PolicyEngine, role: str, coordinate: str, purpose_per_role: bool, sensitive: bool) -> str:
    if coordinate.startswith("Gateway."):
        return "use" if engine.can_use([role], coordinate) else "denied"
    best: Decision = engine.decide([role], None, coordinate)
    if purpose_per_role and sensitive and best.effect != "allow":  # a purpose may lift it (aggregate -> allow)
        for purpose in engine.purposes():
            d = engine.decide([role], purpose, coordinate)
            if _RANK[d.effect] > _RANK[best.effect]:
                best = d
    label = _LABEL[best.effect]
    if best.purpose is not None:
        standing = best.purpose in engine.standing_purposes(role)
        label += f" ({best.purpose}{', standing' if standing else ''})"
    return label


def matrix(engine: PolicyEngine, field_meta: Mapping[str, Mapping[str, Any]],
           roles: Sequence[str] | None = None, purpose_per_role: bool = True) -> list[dict[str, str]]:
    """One row per coordinate (root fields, schema fields, capabilities), one column per role."""
    roles = list(roles) if roles is not None else engine.roles()
    coordinates = [*ROOT_FIELDS, *(c for c in field_meta if c not in ROOT_FIELDS), *CAPABILITIES]
    rows: list[dict[str, str]] = []
    for coordinate in coordinates:
        meta = field_meta.get(coordinate) or {}
        row = {"field": coordinate, "department": str(meta.get("department") or "gateway"),
               "sensitivity": str(meta.get("sensitive") or "")}
        for role in roles:
            row[role] = _cell(engine, role, coordinate, purpose_per_role,
                              meta.get("sensitive") in PURPOSE_CATEGORIES)
        rows.append(row)
    return rows


def render(rows: Sequence[Mapping[str, str]], fmt: str = "md") -> str:
    if not rows:
        return ""
    header = list(rows[0])
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buf.getvalue()
    if fmt == "md":
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r[h] for h in header) + " |" for r in rows]
        return "\n".join(lines) + "\n"
    if fmt == "html":
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        body = "".join(
            "<tr>" + "".join(f'<td class="{html.escape(r[h].split(" ")[0])}">{html.escape(r[h])}</td>'
                             for h in header) + "</tr>"
            for r in rows)
        return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>{body}</tbody>\n</table>\n"
    raise ValueError(f"unknown matrix format {fmt!r} (expected md, csv or html)")
