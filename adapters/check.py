"""A spec checked against the live system: what it maps exists, and a sample converts.

For every entity: the table, endpoint, file and sheet the spec names exist, and so does
every mapped column (JSON key, ledger header); a sample of rows (adapters/probe.py)
converts under the declared types and transforms; the key is unique in the sample and
the place codes are whole-segment codes. Each problem names the department, file, line and
key (for a missing column, also the columns that exist: ``columns``).

Decision (docs/adapter-spec.md, "Checked against the live system"): an entity whose spec
maps something the system lacks (problems with ``refused``) is not served: its calls fail
with DEPARTMENT_BAD_DATA, so a misspelt column is never a silent null, and the department
is ``degraded`` in /readyz with the reason. Other problems (sample values above the
bad-rows ratio, repeated keys, an answer of another shape) only degrade it. A ledger whose
header lacks a column is refused by the ledger kind itself. ``gateway adapters check`` and
the gateway (adapters/guard.py, ``Guarded.verify``: at start, then every health interval
while problems remain) run the same check.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

from adapters.base import FieldType, Rows
from adapters.ledger import PLACE_LENGTHS
from adapters.mapping import JURISDICTION, EntityMap
from adapters.probe import Report, Unreachable, probe
from adapters.problems import Problem
from common.errors import AdapterBadDataError

log = logging.getLogger(__name__)
TYPES: dict[str, tuple[type, ...]] = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,),
                                      "date": (dt.date,)}


@dataclass(frozen=True)
class CheckResult:
    department: str
    problems: tuple[Problem, ...] = ()
    unreachable: str | None = None  # why nothing could be checked: the department did not answer

    @property
    def refused(self) -> dict[str, Problem]:
        """Entity -> the first problem that keeps it from being served."""
        out: dict[str, Problem] = {}
        for p in self.problems:
            if p.extra.get("refused"):
                out.setdefault(str(p.extra["entity"]), p)
        return out

    def summary(self, most: int = 3) -> str:
        """One line for /readyz: the first problems (key: message), and how many more."""
        shown = "; ".join(f"{p.key}: {p.message}" for p in self.problems[:most])
        more = len(self.problems) - most
        return f"spec check: {shown}" + (f" (and {more} more: gateway adapters check {self.department})"
                                         if more > 0 else "")


async def check_adapter(adapter: Any, bad_ratio: float = 0.01, timeout_s: float = 10.0) -> CheckResult:
    """Check one department (a Guarded adapter or a bare one) against its live system."""
    inner = getattr(adapter, "inner", adapter)
    loaded = inner.loaded
    problems: list[Problem] = []
    try:
        for entity, m in inner.maps.items():
            async with asyncio.timeout(timeout_s):
                seen = await probe(inner, entity, m, loaded.problem)
            problems += seen.problems
            if seen.columns is not None:
                # a ledger lacking a column is refused by the ledger kind itself, until the file is fixed
                problems += _columns(entity, m, seen.columns, loaded.problem, inner.kind != "ledger")
            if not seen.problems:
                problems += _sample(entity, m, seen.rows, bad_ratio, loaded.problem)
    except Unreachable as e:
        return CheckResult(inner.name, (), str(e.args[0]))
    except TimeoutError:
        return CheckResult(inner.name, (), "timeout")
    return CheckResult(inner.name, tuple(sorted(problems, key=lambda p: p.line or 0)))


def _columns(entity: str, m: EntityMap, columns: list[str], report: Report, refuse: bool) -> list[Problem]:
    have = set(columns)
    out: list[Problem] = []
    wanted: list[tuple[tuple[str, ...], str]] = [(("entities", entity, "fields", name, "source"), r.source)
                                                 for name, r in m.rules.items()]
    wanted.append((("entities", entity, "jurisdiction", "source"), m.spec.jurisdiction.source))
    for loc, source in wanted:
        if source not in have:
            out.append(report(loc, f"{source!r} does not exist; the system has: {', '.join(columns)}",
                              entity=entity, refused=refuse, source=source, columns=list(columns)))
    return out


def _fits(v: Any, ft: FieldType) -> bool:
    if ft.enum is not None:
        return v in ft.enum
    return isinstance(v, TYPES.get(ft.scalar, (object,))) and not (ft.scalar != "bool" and isinstance(v, bool))


def _blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def _sample(entity: str, m: EntityMap, rows: Rows, ratio: float, report: Report) -> list[Problem]:
    n = len(rows)
    bad: Counter[str] = Counter()
    keys: Counter[Any] = Counter()
    places = 0
    for row in rows:
        try:
            rec = m.convert(row)
        except (TypeError, ValueError, AttributeError, KeyError):
            bad["*"] += 1
            continue
        for name, rule in m.rules.items():
            v = rec.get(name)
            if not _blank(row.get(rule.source)) and (v is None or not _fits(v, m.types[name])):
                bad[name] += 1
        if rec.get(m.key) is not None:
            keys[rec[m.key]] += 1
        place = rec.get(JURISDICTION)
        if place is not None and not (isinstance(place, str) and place.isdigit() and len(place) in PLACE_LENGTHS):
            places += 1
    limit = ratio * n
    out: list[Problem] = []
    for name, count in bad.items():
        if count > limit:
            loc = ("entities", entity) if name == "*" else ("entities", entity, "fields", name, "transform")
            out.append(report(loc, f"{count} of {n} sampled values do not convert to the declared type",
                              entity=entity, bad=count, sampled=n))
    dups = sum(c - 1 for c in keys.values() if c > 1)
    if dups:
        out.append(report(("entities", entity, "key"), f"{m.key} is not unique: {dups} repeated values in a sample "
                          f"of {n} rows", entity=entity, repeated=dups, sampled=n))
    if places > limit:
        out.append(report(("entities", entity, "jurisdiction"), f"{places} of {n} sampled place codes are not "
                          f"whole-segment codes ({', '.join(map(str, sorted(PLACE_LENGTHS)))} digits)",
                          entity=entity, bad=places, sampled=n))
    return out


class SpecCheck:
    """A department's check as its guard applies it: entities refused, the /readyz status, the background run."""

    def __init__(self) -> None:
        self.result: CheckResult | None = None
        self.pending = False  # the background check has not completed yet

    async def run(self, inner: Any, defaults: Any, timeout_s: float) -> CheckResult:
        result = await check_adapter(inner, defaults.bad_rows_ratio, timeout_s)
        if result.unreachable is None:
            if result.problems and result.summary() != (self.result.summary() if self.result else None):
                log.warning("department %s: %d spec check problem(s): %s", result.department, len(result.problems),
                            "; ".join(str(p) for p in result.problems),
                            extra={"department": result.department, "problems": len(result.problems)})
            self.result = result
        return result

    async def loop(self, inner: Any, defaults: Any, timeout_s: float) -> None:
        """Check once the department answers, and again every health interval while problems remain
        (a fixed table, file or service is served again). /readyz says `starting` until the first
        attempt is over, whatever it found."""
        self.pending = True
        while True:
            try:
                result = await self.run(inner, defaults, timeout_s)
            except Exception:  # a bug of the check must not keep the department `starting`
                log.exception("spec check of department %s failed", inner.name)
                return
            finally:
                self.pending = False
            if result.unreachable is None and not result.problems:
                return
            await asyncio.sleep(defaults.health_interval_s)

    def admit(self, entity: str) -> None:
        """Refuse a call to an entity whose spec maps what the system lacks (never a silent null)."""
        p = self.result.refused.get(entity) if self.result is not None else None
        if p is not None:
            raise AdapterBadDataError(f"department {p.department}: {entity} is not served: its spec maps what "
                                      f"the system lacks ({p.key})", department=p.department, entity=entity)

    def adjust(self, status: str, detail: str) -> tuple[str, str]:
        """The /readyz status and detail of a serving department, given the check."""
        if status not in ("up", "degraded"):
            return status, detail
        if self.result is None:
            return ("starting", detail) if self.pending else (status, detail)
        if not self.result.problems:
            return status, detail
        return "degraded", "; ".join(x for x in (detail, self.result.summary()) if x)
