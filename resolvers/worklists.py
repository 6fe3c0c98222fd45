"""Data finds people: the silent-minority worklist and the eligibility rules (政策找人).

Both are tag algebra (resolvers/tags.py). A rule's residents are the tag ``rule:<name>``
(``(qualifies) and not (receives)``), listed by ``Query.eligible`` as a person connection with
the same paging, policy and masking as ``persons``. The worklist is ``vulnerable and not visited
in the last N days``, ranked: most vulnerability tags first, then the longest without a visit
(never visited first), with the tag names as reasons: a reason is a tag the caller may use,
never a value behind it.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from adapters.base import Record
from common.errors import BadRequestError, UnauthorizedFieldError
from resolvers.execute import Executor
from resolvers.filters import narrow, places_given, require
from resolvers.keysets import record_scope
from resolvers.selection import Sel
from resolvers.tags import Evaluation, catalogue, usable
from schema.tags import Linked, load_rules

WORKLIST_TAG = "vulnerable"  # the worklist's tag: its own tags are the reasons
MAX_DAYS = 3660


def rules(ex: Executor) -> list[dict[str, Any]]:
    tags = catalogue()
    return [{"name": r.name, "title": r.title, "description": r.description, "owner": r.owner, "benefit": r.benefit,
             "qualifies": r.qualifies, "receives": r.receives, "reads": sorted(tags[f"rule:{r.name}"].reads),
             "usable": usable(ex.ctx.access, tags[f"rule:{r.name}"])} for r in load_rules().values()]


def known_rule(name: str) -> str:
    if name not in load_rules():
        raise BadRequestError(f"no eligibility rule {name!r}", argument="rule")
    return f"rule:{name}"


async def silent_minority(ex: Executor, days: int, first: int, f: Any, sel: Sel,
                          path: tuple[str, ...]) -> list[dict[str, Any]]:
    if not 1 <= days <= MAX_DAYS:
        raise BadRequestError(f"days must be between 1 and {MAX_DAYS}", argument="days")
    if not 1 <= first <= ex.ctx.limits.max_page:
        raise BadRequestError(f"first must be between 1 and {ex.ctx.limits.max_page}", argument="first")
    if f is not None and places_given(f):
        require(ex, "Person.jurisdictionCode", "committee/compound/building")
    scope = narrow(ex.scope, f) if f is not None else ex.scope
    if scope is None:
        return []
    tags = catalogue()
    worklist = tags[WORKLIST_TAG]
    if not usable(ex.ctx.access, worklist):
        raise UnauthorizedFieldError(f"the worklist's tag {WORKLIST_TAG} reads fields this role may not read in full",
                                     coordinate="Query.silentMinority", tag=WORKLIST_TAG)
    require(ex, "Visit.date", "days")  # the last visit's day is in the answer
    ev = Evaluation(ex, "Person", scope)
    vulnerable = await ev.exactly(await ev.tag(WORKLIST_TAG))
    visited = (await ev.evaluate(Linked("visits", "within", None, None, days))).keys
    candidates = vulnerable - visited
    reasons = [n for n in worklist.uses if usable(ex.ctx.access, tags[n])]
    sets = {n: (await ev.tag(n)).keys for n in reasons}
    rel = ex.relations["Person"]["visits"]
    last: dict[str, dt.date] = {}
    for v in await ev.records(rel.target, record_scope(scope)):
        k, d = str(v.get(rel.remote)), v.get(rel.newest_first or "")
        if k in candidates and isinstance(d, dt.date) and (k not in last or d > last[k]):
            last[k] = d
    why = {k: [n for n in reasons if k in sets[n]] for k in candidates}
    ranked = sorted(candidates, key=lambda k: (-len(why[k]), last.get(k, dt.date.min), k))[:first]
    people = {str(p.get("idNumber")): p for p in await ex.get_many("Person", ranked)}
    records: list[Record] = [people[k] for k in ranked if k in people]
    await ex.expand("Person", records, sel, (*path, "@", "person"))
    await ex.shape()
    today = ex.today
    return [{"person": people[k], "reasons": why[k], "lastVisit": last.get(k),
             "daysSinceVisit": (today - last[k]).days if k in last else None} for k in ranked if k in people]
