"""The role x field matrix as one self-contained HTML page an auditor can read.

Inline CSS only (no script, no font, no image; a Content-Security-Policy forbids any fetch).
Rows are grouped by department, entry points first and gateway features last; the role
header row and the field column stay in view while scrolling (CSS ``position: sticky``).
Each role's column notes its duty (``duty`` lines of roles.csv), each field its sensitive
category, each cell its word (the legend explains them, from policies/vocabulary.py) and the
purpose a sensitive category needs, if any.
"""
from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

from policies.loader import PURPOSE_CATEGORIES
from policies.vocabulary import Label, Word

ENTRY_POINTS, FEATURES = "Entry points", "Gateway features"
_META_COLUMNS = ("field", "department", "sensitivity")
_CSP = "default-src 'none'; style-src 'unsafe-inline'"
_CSS = """
:root { --line: #d5d9e0; --head: #f4f6f9; --ink: #1d2430; --muted: #5b6575; }
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.35 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
       color: var(--ink); background: #fff; }
header.intro { padding: 16px 20px 8px; max-width: 1100px; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 14px; margin: 12px 0 6px; }
p { margin: 4px 0; }
code { font: 12px ui-monospace, "DejaVu Sans Mono", monospace; }
#legend dl { display: grid; grid-template-columns: max-content 1fr; gap: 3px 10px; margin: 0; }
#legend dt { margin: 0; } #legend dd { margin: 0; color: var(--muted); }
#legend .cats span { margin-right: 6px; }
table { border-collapse: separate; border-spacing: 0; margin: 8px 0 24px; }
th, td { border-right: 1px solid var(--line); border-bottom: 1px solid var(--line); padding: 3px 6px;
         vertical-align: top; }
thead th { position: sticky; top: 0; z-index: 2; background: var(--head); text-align: left; width: 6.8em;
           min-width: 6.8em; font-weight: 600; border-bottom: 2px solid #9aa3b2; }
thead th .duty { display: block; font-weight: 400; color: var(--muted); font-size: 11px; margin-top: 2px; }
thead th.corner { left: 0; z-index: 4; width: auto; vertical-align: bottom; }
tbody th.field { position: sticky; left: 0; z-index: 1; background: #fff; text-align: left; font-weight: 500; }
tbody th.field code { font-size: 12px; white-space: nowrap; }
tr.group th { background: #e8ecf2; text-align: left; padding: 6px; font-size: 13px; }
tr.group th span.name { position: sticky; left: 6px; }
tr.group th small { color: var(--muted); font-weight: 400; margin-left: 6px; }
td small { display: block; color: var(--muted); font-size: 11px; }
.w-allow, .w-use { background: #dcf3e1; } .w-masked { background: #fff0c4; }
.w-aggregate { background: #dde9ff; } .w-denied { background: #fbdada; }
.w-no-grant { background: #f3f4f6; color: #6b7280; }
.cell { display: inline-block; padding: 0 5px; border-radius: 3px; }
.sens { display: inline-block; font-size: 10px; padding: 0 4px; margin-left: 4px; border-radius: 8px;
        border: 1px solid #b45309; color: #92400e; background: #fffbeb; font-weight: 600; }
.sens.purpose { border-color: #b91c1c; color: #991b1b; background: #fef2f2; }
"""


def _cls(word: Word) -> str:
    return "w-" + str(word).replace(" ", "-")


def _roles(rows: Sequence[Mapping[str, str]]) -> list[str]:
    return [h for h in rows[0] if h not in _META_COLUMNS]


def _group(row: Mapping[str, str], titles: Mapping[str, str]) -> str:
    field = row["field"]
    if field.startswith(("Query.", "Node.")):
        return ENTRY_POINTS
    if field.startswith("Gateway."):
        return FEATURES
    return titles.get(row["department"], row["department"])


def _sens(category: str) -> str:
    if not category:
        return ""
    kind = "sens purpose" if category in PURPOSE_CATEGORIES else "sens"
    return f' <span class="{kind}" title="sensitive: {html.escape(category)}">{html.escape(category)}</span>'


def _cell(text: str, category: str) -> str:
    cell = Label.parse(text)
    note, title = "", text
    if cell.purposes:
        names = " or ".join(cell.purposes)
        what = f"a {category} purpose" if category else "a purpose"
        note = f"<small>standing purpose {html.escape(names)}</small>" if cell.standing else \
            f"<small>needs purpose {html.escape(names)}</small>"
        title = (f"{cell.word}: {what} the role's duty always implies ({names})" if cell.standing
                 else f"{cell.word}; {what} needed: only when the caller declares {names}")
    return f'<td class="{_cls(cell.word)}" title="{html.escape(title)}">{html.escape(str(cell.word))}{note}</td>'


def _legend() -> str:
    words = "".join(f'<dt><span class="cell {_cls(w)}">{html.escape(str(w))}</span></dt>'
                    f"<dd>{html.escape(w.meaning)}</dd>" for w in Word)
    cats = "".join(f'<span class="sens">{c}</span>' for c in ("identity", "contact"))
    pcats = "".join(f'<span class="sens purpose">{c}</span>' for c in sorted(PURPOSE_CATEGORIES))
    return (f'<section id="legend" aria-label="legend"><h2>Legend</h2><dl>{words}'
            f'<dt class="cats">{cats}</dt><dd>sensitive: masked or withheld per role</dd>'
            f'<dt class="cats">{pcats}</dt><dd>sensitive: shown only for a purpose the role may use, which the cell '
            "names: <em>needs purpose health_service</em> (a health purpose needed: only when the caller declares "
            "it) or <em>standing purpose resident_service</em> (the role's duty always implies it, declared or "
            "not)</dd></dl></section>")


def page(rows: Sequence[Mapping[str, str]], duties: Mapping[str, str], titles: Mapping[str, str],
         version: str | None) -> str:
    roles = _roles(rows)
    head = '<th class="corner" scope="col">field</th>' + "".join(
        f'<th scope="col" class="role" data-role="{html.escape(r)}">{html.escape(r).replace("_", "_<wbr>")}'
        + (f'<span class="duty">{html.escape(duties[r])}</span>' if r in duties else "") + "</th>"
        for r in roles)
    groups: dict[str, list[Mapping[str, str]]] = {}
    for row in rows:
        groups.setdefault(_group(row, titles), []).append(row)
    order = [g for g in groups if g == ENTRY_POINTS] + [g for g in groups if g not in (ENTRY_POINTS, FEATURES)] \
        + [g for g in groups if g == FEATURES]
    body = []
    for name in order:
        members = groups[name]
        depts = sorted({m["department"] for m in members} - {name})
        sub = f"<small>{html.escape(', '.join(depts))}</small>" if name not in (ENTRY_POINTS, FEATURES) else ""
        body.append(f'<tbody><tr class="group"><th scope="rowgroup" colspan="{len(roles) + 1}">'
                    f'<span class="name">{html.escape(name)}{sub}</span></th></tr>')
        for r in members:
            body.append(f'<tr><th scope="row" class="field"><code>{html.escape(r["field"])}</code>'
                        f'{_sens(r["sensitivity"])}</th>'
                        + "".join(_cell(r[role], r["sensitivity"]) for role in roles) + "</tr>")
        body.append("</tbody>")
    ver = f" Policy version <code>{html.escape(version)}</code>." if version else ""
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>Who may see what: the access policy matrix</title><style>{_CSS}</style></head>\n<body>"
            f'<header class="intro"><h1>Who may see what</h1><p>One row per entry point, field and gateway '
            f"feature, grouped by the department that supplies it; one column per role, under its duty.{ver} "
            "Made by <code>gateway policy matrix --format html</code> from the files in <code>policies/</code>; "
            "<code>gateway policy explain</code> names the rule behind any cell.</p>"
            f"{_legend()}</header>\n"
            f'<table id="matrix"><thead><tr>{head}</tr></thead>\n' + "\n".join(body) + "\n</table>\n</body></html>\n")
