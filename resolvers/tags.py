"""Tags evaluated as key-set algebra over the departments (definitions: schema/tags.py, tags/*.yaml).

A tag over a scope is a set of subject keys (ID numbers, address codes). The atoms become key sets
in the gateway and ``and``/``or``/``not`` become intersection, union and difference, ``not``
against every subject in the scope. An evaluation is *narrow* when its answer is exact without
reading every subject (each atom then pushed down to its department as a filter the department
takes, the subject's keys read as one column), else *wide* (each department a tag reads asked once
for its records in the scope, every atom read off them). No department reads another's data: the
only thing that moves between them is a set of keys, and only inside the gateway (docs/tags.md).

A tag's set is kept like the filters' key sets (resolvers/refreshing.py, ``keyset_cache_s``), per
scope and caller scope, with the data versions of its departments and today's date (ages change at
midnight) in the key; never for callers whose rows a relationship restricts.

A caller may use a tag only if it may read in full every coordinate the tag reads, those of the
tags it names included (``usable``): a tag is a filter, and a filter on a field one may not read
is an oracle on it. ``Person.tags`` lists the usable tags a person is in; a filter naming a tag
that is not usable is refused with UNAUTHORIZED_FIELD_OR_TYPE.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import operator
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from adapters.base import Eq, Filter, ListQuery, Range, Record
from common.dates import age_on, years_ago
from common.errors import BadRequestError, GatewayError, UnauthorizedFieldError
from resolvers.access import ALLOW, Access
from resolvers.keysets import record_scope, root_keys
from resolvers.relations import KEYS
from schema.core import Relation
from schema.tags import RULE_PREFIX, And, Expr, Linked, Not, Or, Own, ResidentTag, Tag, TagRef, load

if TYPE_CHECKING:
    from resolvers.execute import Executor

COMPARE: dict[str, Callable[[Any, Any], bool]] = {"=": operator.eq, "!=": operator.ne, "<": operator.lt,
                                                  "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def catalogue() -> dict[str, Tag]:
    return load()


def usable(access: Access, tag: Tag) -> bool:
    return all(access.enforced(c) == ALLOW for c in tag.reads)


def usable_names(ex: Executor, subject: str) -> list[str]:
    """The catalogue's tags of the subject the caller may use (the rules' are asked by Query.eligible)."""
    return [n for n, t in catalogue().items() if t.subject == subject and not n.startswith(RULE_PREFIX)
            and usable(ex.ctx.access, t)]


def named(ex: Executor, subject: str, names: Iterable[str], argument: str) -> list[str]:
    """The tags a filter names, each known, of the subject, and usable by the caller."""
    tags = catalogue()
    out = []
    for n in dict.fromkeys(names):
        t = tags.get(n)
        if t is None or t.subject != subject:
            raise BadRequestError(f"no {subject} tag {n!r}", argument=argument, tag=n)
        if not usable(ex.ctx.access, t):
            raise UnauthorizedFieldError(f"tag {n} reads fields this role may not read in full", argument=argument,
                                         tag=n, coordinate=f"{subject}.tags")
        out.append(n)
    return out


def data_versions(ex: Executor, names: Iterable[str]) -> tuple[Any, ...]:
    """The data versions of the departments the tags read (a ledger file's version; None for the others):
    part of every kept tag set's key, so a new version is a new set."""
    types = sorted({c.split(".", 1)[0] for n in names for c in catalogue()[n].reads})
    return tuple(ex.owner(t).version(t) if ex.ctx.registry.for_entity(t) else None for t in types)


@dataclass(frozen=True)
class Found:
    """A key set, and whether it is exact: only keys of the subject's records in the scope. A set made
    from a department's records by the subject's key is not (the department may file records of
    persons outside the scope, or of nobody); one with an exact part in an ``and``, a ``not``, or one
    read off the subject's own records is. Membership of a record in scope needs no exactness; a
    filter's answer and its count do (``exactly``)."""
    keys: frozenset[str]
    exact: bool

    def __len__(self) -> int:
        return len(self.keys)


class Evaluation:
    """One evaluation of tags over a scope: each department's records fetched once, each tag's set once."""

    def __init__(self, ex: Executor, subject: str, scope: str, wide: bool = True) -> None:
        self.ex = ex
        self.subject = subject
        self.scope = scope
        self.today = ex.today
        # wide: every subject in the scope is read anyway (a ``not``, an answer to make exact, a field no
        # filter can ask for), and the own-field atoms are read off those records, so the subject's
        # department is asked once; narrow: each is pushed down as a filter, reading only its matches
        self.wide = wide
        # the records read, shared by every evaluation of the request (Person.tags and House.tags read the same
        # residents): each department is asked once per (entity, scope, filters) in a request
        self.fetched: dict[tuple[Any, ...], asyncio.Task[list[Record]]] = ex.ctx.tag_reads
        self.others: dict[str, Evaluation] = {}

    def records(self, entity: str, scope: str, filters: dict[str, Filter] | None = None) -> Awaitable[list[Record]]:
        """The entity's records in the scope (that pass ``filters``), fetched once per evaluation."""
        k = (entity, scope, tuple(sorted((filters or {}).items(), key=lambda kv: kv[0])))
        task = self.fetched.get(k)
        if task is None:
            async def fetch() -> list[Record]:
                records, _ = await self.ex.list_root(entity, ListQuery(scope=scope, filters=filters or {}, limit=None))
                return records
            task = self.fetched[k] = asyncio.ensure_future(fetch())
        return task

    async def linked_records(self, rel: Relation, a: Linked) -> list[Record]:
        """The records an atom on a relation reads: those its condition selects, asked of the department as a
        filter when the evaluation is narrow and the department can filter so; else all in the scope."""
        scope = record_scope(self.scope)
        pushed = None if self.wide else linked_filter(rel, a, self.today)
        if pushed is not None and self.ex.owner(rel.target).accepts(rel.target, pushed):
            return await self.records(rel.target, scope, pushed)
        return await self.records(rel.target, scope)

    async def universe(self) -> list[Record]:
        return await self.records(self.subject, self.scope)

    async def keys(self) -> frozenset[str]:
        """Every subject's key in the scope (kept like the filters' key sets, or from the records read)."""
        return await root_keys(self.ex, self.subject, self.scope, {}, self.universe if self.wide else None)

    async def exactly(self, found: Found) -> frozenset[str]:
        return found.keys if found.exact else found.keys & await self.keys()

    async def tag(self, name: str) -> Found:
        """The tag's keys in the scope, kept across requests when the gateway keeps key sets."""
        t = catalogue()[name]
        cache = self.ex.ctx.keysets
        if cache is None or self.ex.row_keys:
            return await self.evaluate(t.expr)
        key = ("tag", name, self.subject, self.scope, self.ex.scope, data_versions(self.ex, [name]), self.today)
        return await cache.get(key, lambda: self.evaluate(t.expr))  # type: ignore[no-any-return]

    async def evaluate(self, e: Expr) -> Found:
        if isinstance(e, And):
            parts = await asyncio.gather(*(self.evaluate(a) for a in e.args))
            return Found(frozenset.intersection(*(p.keys for p in parts)), any(p.exact for p in parts))
        if isinstance(e, Or):
            parts = await asyncio.gather(*(self.evaluate(a) for a in e.args))
            return Found(frozenset().union(*(p.keys for p in parts)), all(p.exact for p in parts))
        if isinstance(e, Not):
            everyone, inside = await asyncio.gather(self.keys(), self.evaluate(e.arg))
            return Found(everyone - inside.keys, True)
        if isinstance(e, TagRef):
            return await self.tag(e.name)
        if isinstance(e, Own):
            return await self._own(e)
        if isinstance(e, Linked):
            return await self._linked(e)
        assert isinstance(e, ResidentTag)
        return await self._residents(e)

    async def _own(self, a: Own) -> Found:
        """Pushed down to the subject's department as a filter where it can be (a range of birth dates for an
        age), so only the matching records are read; else read off every record in the scope."""
        pushed = None if self.wide else pushable(self.subject, a, self.today)
        if pushed is not None and self.ex.owner(self.subject).accepts(self.subject, pushed):
            return Found(await root_keys(self.ex, self.subject, self.scope, pushed), True)
        key = KEYS[self.subject]
        out = set()
        for r in await self.universe():
            v = age_on(r.get("birthDate"), self.today) if (self.subject, a.field) == ("Person", "age") else r.get(a.field)
            if _holds(v, a.op, a.value) and r.get(key) is not None:
                out.add(str(r[key]))
        return Found(frozenset(out), True)

    def _relation(self, name: str) -> Relation:
        return self.ex.relations[self.subject][name]

    async def _linked(self, a: Linked) -> Found:
        rel = self._relation(a.relation)
        records = await self.linked_records(rel, a)
        matched: set[Any] = set()  # values of rel.remote whose record(s) match
        if a.quant == "one":
            for r in records:
                if a.field is None or _holds(r.get(a.field), a.op, a.value):
                    matched.add(r.get(rel.remote))
        elif a.quant == "any":
            matched = {r.get(rel.remote) for r in records if _holds(r.get(a.field or ""), a.op, a.value)}
        elif a.quant == "within":
            assert rel.newest_first is not None and isinstance(a.value, int)
            since = self.today - dt.timedelta(days=a.value)
            matched = {r.get(rel.remote) for r in records
                       if isinstance(d := r.get(rel.newest_first), dt.date) and d >= since}
        else:  # latest
            assert rel.newest_first is not None
            newest: dict[Any, Record] = {}
            for r in records:
                k, d = r.get(rel.remote), r.get(rel.newest_first)
                if not isinstance(d, dt.date):
                    continue
                seen = newest.get(k)
                if seen is None or d > seen[rel.newest_first]:
                    newest[k] = r
            matched = {k for k, r in newest.items() if _holds(r.get(a.field or ""), a.op, a.value)}
        matched.discard(None)
        return await self._subjects(rel, matched)

    async def _subjects(self, rel: Relation, values: Collection[Any]) -> Found:
        """The subjects whose ``rel.local`` is one of ``values``: the values themselves when that is the
        subject's key (not exact), else read off the subject's records in the scope (exact)."""
        key = KEYS[self.subject]
        if rel.local == key:
            return Found(frozenset(str(v) for v in values), False)
        return Found(frozenset(str(r[key]) for r in await self.universe() if r.get(rel.local) in values
                               and r.get(key) is not None), True)

    async def _residents(self, a: ResidentTag) -> Found:
        rel_name, _, tag = a.name.partition(":")
        rel = self._relation(rel_name)
        other = self.others.get(rel.target)
        if other is None:
            other = self.others[rel.target] = Evaluation(self.ex, rel.target, self.scope)
            other.fetched = self.fetched
        people = (await other.tag(tag)).keys
        pkey = KEYS[rel.target]
        houses = {r.get(rel.remote) for r in await other.universe() if str(r.get(pkey)) in people}
        houses.discard(None)
        return await self._subjects(rel, houses)


def _expanded(e: Expr) -> Expr:
    return _expanded(catalogue()[e.name].expr) if isinstance(e, TagRef) else e


def wide(ex: Executor, subject: str, e: Expr) -> bool:
    """Whether evaluating ``e`` reads every subject in the scope anyway (see ``Evaluation.wide``)."""
    e = _expanded(e)
    if isinstance(e, Not):
        return True
    if isinstance(e, And | Or):
        return any(wide(ex, subject, a) for a in e.args)
    if isinstance(e, Own):
        return pushable(subject, e, dt.date.today()) is None
    if isinstance(e, Linked):
        return ex.relations[subject][e.relation].local != KEYS[subject]
    return False  # a resident tag reads the residents, not every house


def exact(ex: Executor, subject: str, e: Expr) -> bool:
    """Whether ``e``'s set is exact without reading every subject (``Found.exact``, known beforehand)."""
    e = _expanded(e)
    if isinstance(e, And):
        return any(exact(ex, subject, a) for a in e.args)
    if isinstance(e, Or):
        return all(exact(ex, subject, a) for a in e.args)
    if isinstance(e, Not | Own):
        return True
    if isinstance(e, Linked):
        return ex.relations[subject][e.relation].local != KEYS[subject]
    return False


def linked_filter(rel: Relation, a: Linked, today: dt.date) -> dict[str, Filter] | None:
    """The department filter selecting the records an atom on a relation matches, when there is one (the
    atom is still checked on each record): a true Boolean or ``=`` of its only or any record, a date window
    of ``within``; none for ``latest`` (it reads every record to know the newest) or other comparisons."""
    if a.quant == "within" and rel.newest_first is not None and isinstance(a.value, int):
        return {rel.newest_first: Range(today - dt.timedelta(days=a.value), None)}
    if a.quant in ("one", "any") and a.field is not None:
        if a.op is None:
            return {a.field: Eq((True,))}
        if a.op == "=":
            return {a.field: Eq((a.value,))}
    return None


def pushable(subject: str, a: Own, today: dt.date) -> dict[str, Filter] | None:
    """The department filter equal to an own-field atom, when there is one: an age compared becomes a range
    of birth dates (whole years on ``today``, as ``Person.age``); ``=`` and a true Boolean an equality;
    ``!=`` and other comparisons none."""
    if (subject, a.field) == ("Person", "age") and a.op in ("=", ">=", ">", "<=", "<"):
        n = int(a.value)
        lo_age = {"=": n, ">=": n, ">": n + 1}.get(a.op)
        hi_age = {"=": n, "<=": n, "<": n - 1}.get(a.op)
        oldest = years_ago(today, hi_age + 1) + dt.timedelta(days=1) if hi_age is not None else None
        youngest = years_ago(today, lo_age) if lo_age is not None else None
        return {"birthDate": Range(oldest, youngest)}
    if a.op is None:
        return {a.field: Eq((True,))}
    if a.op == "=":
        return {a.field: Eq((a.value,))}
    return None


def _holds(v: Any, op: str | None, value: Any) -> bool:
    if op is None:
        return v is True
    if v is None:
        return False
    v = getattr(v, "value", v)
    try:
        return COMPARE[op](v, value)
    except TypeError:  # a department's value of another type than the schema's: no match, never a crash
        return False


async def tag_sets(ex: Executor, subject: str, scope: str, names: Iterable[str]) -> dict[str, frozenset[str]]:
    """Each tag's keys, exact or not: for telling whether records in the scope are members."""
    ev = Evaluation(ex, subject, scope)
    names = list(names)
    found = await asyncio.gather(*(ev.tag(n) for n in names))
    return {n: f.keys for n, f in zip(names, found, strict=True)}


async def filtered(ex: Executor, subject: str, scope: str, yes: list[str], no: list[str]) -> frozenset[str]:
    """The keys in the scope in every tag of ``yes`` and in none of ``no`` (names checked by ``named``)."""
    tags = catalogue()
    exprs = [tags[n].expr for n in yes + no]
    ev = Evaluation(ex, subject, scope, wide=not yes or any(wide(ex, subject, e) for e in exprs)
                    or not any(exact(ex, subject, tags[n].expr) for n in yes))
    async def kept() -> frozenset[str]:
        return await ev.exactly(await ev.evaluate(And(tuple(TagRef(n) for n in yes)))) if yes else await ev.keys()

    async def dropped() -> frozenset[str]:
        return (await ev.evaluate(Or(tuple(TagRef(n) for n in no)))).keys if no else frozenset()

    keep, drop = await asyncio.gather(kept(), dropped())  # the departments of both asked at once
    return keep - drop


async def fill(ex: Executor, subject: str, records: list[Record], path: tuple[str, ...]) -> None:
    """``tags`` of each record: the usable tags it is in, in the catalogue's order (null and an error at
    ``path`` when a department a tag reads fails)."""
    names = usable_names(ex, subject)
    key = KEYS[subject]
    try:
        sets = await tag_sets(ex, subject, ex.scope, names)
    except GatewayError as e:
        ex.ctx.error(path, e)
        for r in records:
            r["tags"] = None
        return
    for r in records:
        k = str(r.get(key))
        r["tags"] = [n for n in names if k in sets[n]]


def definitions(access: Access, subject: str | None) -> list[dict[str, Any]]:
    """The catalogue as ``TagDefinition`` records (dicts, as every record the schema serialises)."""
    return [{"name": n, "subject": t.subject, "title": t.spec.title, "description": t.spec.description,
             "owner": t.spec.owner, "definition": t.spec.where, "reads": sorted(t.reads), "usable": usable(access, t)}
            for n, t in catalogue().items() if (subject is None or t.subject == subject) and not n.startswith(RULE_PREFIX)]
