"""`gateway audit verify`: walk the chain and the checkpoints; name the first bad position.

Per record, in position order: the position follows the previous one (else *missing*), the
stored hash is ``link(position, prev, body)`` (else *moved* when it matches a neighbouring
position: inserted, deleted-and-renumbered or reordered records; else *altered*), ``prev``
is the previous record's hash (else *broken_link*), the index columns and the subject rows
agree with the body. Per checkpoint: the Ed25519 signature is valid and the record at its
position has the signed hash (else the chain was rewritten after the previous checkpoint).
At the end: every signed position exists (else *truncated*) and the unsigned head row names
the last record. Records after the last checkpoint are the residual window (docs/audit.md).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.audit.chain import checkpoint_message
from gateway.audit.keys import key_id, verifies
from gateway.audit.record import GENESIS, index_of, link
from gateway.audit.tables import checkpoints, head, records, subjects

CHUNK = 5000


@dataclass(frozen=True)
class Problem:
    position: int
    kind: str
    detail: str


@dataclass
class Report:
    records: int = 0
    checkpoints: int = 0
    sealed: int = 0  # position of the last valid checkpoint
    last: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> Problem | None:
        return min(self.problems, key=lambda p: p.position) if self.problems else None

    def as_dict(self) -> dict[str, Any]:
        first = self.first
        return {"ok": self.ok, "records": self.records, "checkpoints": self.checkpoints, "sealed": self.sealed,
                "unsealed": max(0, self.last - self.sealed),
                "first_bad": None if first is None else {"position": first.position, "kind": first.kind,
                                                          "detail": first.detail},
                "problems": [vars(p) for p in sorted(self.problems, key=lambda p: p.position)]}


class _Walk:
    def __init__(self, public: Ed25519PublicKey, cps: dict[int, Any], report: Report) -> None:
        self.public = public
        self.cps = cps
        self.report = report
        self.expected = 1
        self.prev = GENESIS
        self.last_cp = 0
        self.unexplained: list[tuple[int, int]] = []  # windows before a checkpoint the chain no longer matches

    def finish(self) -> None:
        """A window with no record-level problem was rewritten consistently: only the signature tells."""
        for lo, hi in self.unexplained:
            if not any(lo <= q.position <= hi for q in self.report.problems):
                self.bad(lo, "rewritten", f"the chain differs from the checkpoint at {hi}: rewritten between "
                                          f"positions {lo} and {hi}")

    def bad(self, position: int, kind: str, detail: str) -> None:
        self.report.problems.append(Problem(position, kind, detail))

    def row(self, r: Any, subs: set[str]) -> None:
        pos = int(r.position)
        gap = pos > self.expected
        if gap:
            self.bad(self.expected, "missing", f"positions {self.expected}..{pos - 1} are missing")
        if link(pos, r.prev, r.body) != r.hash:
            moved = next((q for q in (pos - 1, pos + 1) if link(q, r.prev, r.body) == r.hash), None)
            if moved is not None:
                self.bad(min(pos, moved), "moved", f"the record at {pos} was sealed at position {moved}")
            else:
                self.bad(pos, "altered", f"the record at {pos} does not match its hash")
        elif not gap and r.prev != self.prev:
            self.bad(max(1, pos - 1), "broken_link", f"the records at {pos - 1} and {pos} do not link")
        try:
            content = json.loads(r.body)
            stored = {"uid": r.uid, "at": r.at, "user_id": r.user_id, "outcome": r.outcome, "day": r.day}
            if index_of(content) != stored:
                self.bad(pos, "index_mismatch", f"the columns of the record at {pos} differ from its body")
            if set(content.get("subjects") or ()) != subs:
                self.bad(pos, "subjects_mismatch", f"the data subjects of the record at {pos} differ from its body")
        except (ValueError, TypeError, AttributeError):
            self.bad(pos, "altered", f"the record at {pos} is not a JSON object")
        cp = self.cps.get(pos)
        if cp is not None:
            if cp.hash != r.hash:
                self.unexplained.append((self.last_cp + 1, pos))
            self.last_cp = pos
        self.prev = r.hash
        self.expected = pos + 1
        self.report.records += 1


async def _chunk(conn: AsyncConnection, after: int) -> tuple[list[Any], dict[int, set[str]]]:
    rows = list((await conn.execute(sa.select(records).where(records.c.position > after)
                                    .order_by(records.c.position).limit(CHUNK))).all())
    subs: dict[int, set[str]] = {}
    if rows:
        lo, hi = int(rows[0].position), int(rows[-1].position)
        res = await conn.execute(sa.select(subjects.c.position, subjects.c.subject)
                                 .where(subjects.c.position.between(lo, hi)))
        for p, s in res:
            subs.setdefault(int(p), set()).add(s)
    return rows, subs


async def verify(engine: AsyncEngine, public: Ed25519PublicKey) -> Report:
    report = Report()
    kid = key_id(public)
    async with engine.connect() as conn:
        cps: dict[int, Any] = {}
        for cp in (await conn.execute(sa.select(checkpoints).order_by(checkpoints.c.position))).all():
            report.checkpoints += 1
            msg = checkpoint_message(int(cp.position), cp.hash, float(cp.at), cp.key_id)
            if cp.key_id != kid or not verifies(public, msg, cp.signature):
                report.problems.append(Problem(int(cp.position), "bad_checkpoint",
                                               f"the checkpoint at {cp.position} is not signed by key {kid}"))
            else:
                cps[int(cp.position)] = cp
        walk = _Walk(public, cps, report)
        after = 0
        for _ in range(3):  # records appended while we walk: go on until the head is reached
            while True:
                rows, subs = await _chunk(conn, after)
                for r in rows:
                    walk.row(r, subs.get(int(r.position), set()))
                if len(rows) < CHUNK:
                    break
                after = int(rows[-1].position)
            after = walk.expected - 1
            h = (await conn.execute(sa.select(head).where(head.c.id == 1))).one()
            if int(h.position) <= after:
                break
        walk.finish()
        last = walk.expected - 1
        report.last = last
        report.sealed = max((p for p in cps if p <= last), default=0)
        signed = max(cps, default=0)
        if signed > last:
            walk.bad(last + 1, "truncated", f"records {last + 1}..{signed} are missing: a signed checkpoint names "
                                            f"position {signed}")
        elif int(h.position) > last:
            walk.bad(last + 1, "truncated", f"records {last + 1}..{h.position} are missing (unsigned head)")
        elif int(h.position) < last:
            walk.bad(int(h.position) + 1, "beyond_head", f"records after the head position {h.position}")
        elif last and h.hash != walk.prev:
            walk.bad(last, "head_mismatch", f"the head's hash differs from the record at {last}")
    return report
