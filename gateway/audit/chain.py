"""Appending to the chain and sealing checkpoints, inside one database transaction.

The transaction first locks the single ``audit_head`` row (``SELECT ... FOR UPDATE`` on
PostgreSQL; on SQLite the transaction began IMMEDIATE, holding the write lock), so whichever
process commits assigns the next positions and links to the true previous hash: several
gateway workers write one chain. Each record's hash is ``link(position, prev, body)``.

A checkpoint is an Ed25519 signature over ``{"position", "hash", "at", "key"}`` of the head.
The appender seals when ``records`` positions or ``seconds`` have passed since the last seal
(``SealPolicy``), and on demand (idle timer, clean shutdown). Records after the last seal
are the residual window: truncating them is only caught by the head row, which is not signed.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.audit.keys import Signer
from gateway.audit.record import Prepared, canonical, link
from gateway.audit.tables import checkpoints, head, records, subjects


@dataclass(frozen=True)
class SealPolicy:
    records: int = 1000
    seconds: float = 10.0


def checkpoint_message(position: int, hash_: str, at: float, key: str) -> bytes:
    return canonical({"position": position, "hash": hash_, "at": at, "key": key}).encode()


async def _existing(conn: AsyncConnection, uids: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(uids), 500):
        res = await conn.execute(sa.select(records.c.uid).where(records.c.uid.in_(uids[i:i + 500])))
        found.update(r[0] for r in res)
    return found


async def append(conn: AsyncConnection, batch: Sequence[Prepared], signer: Signer, policy: SealPolicy,
                 dedupe: bool = False, force_seal: bool = False) -> int:
    """Append ``batch`` in order and seal if due; returns the number of records appended.

    ``dedupe`` (after a failed commit whose outcome is unknown): records already stored
    (same uid) are skipped, so a retried batch never appears twice.
    """
    h = (await conn.execute(sa.select(head).where(head.c.id == 1).with_for_update())).one()
    if dedupe and batch:
        done = await _existing(conn, [p.uid for p in batch])
        batch = [p for p in batch if p.uid not in done]
    pos, prev = int(h.position), str(h.hash)
    rows: list[dict[str, Any]] = []
    subs: list[dict[str, Any]] = []
    for p in batch:
        pos += 1
        digest = link(pos, prev, p.body)
        rows.append({"position": pos, "uid": p.uid, "at": p.at, "day": p.day, "user_id": p.user,
                     "outcome": p.outcome, "prev": prev, "hash": digest, "body": p.body})
        subs.extend({"subject": s, "position": pos} for s in p.subjects)
        prev = digest
    if rows:
        await conn.execute(records.insert(), rows)
    if subs:
        await conn.execute(subjects.insert(), subs)
    values: dict[str, Any] = {"position": pos, "hash": prev}
    now = time.time()
    sealed, sealed_at = int(h.sealed_position), float(h.sealed_at)
    if pos > sealed and (force_seal or pos - sealed >= policy.records or now - sealed_at >= policy.seconds):
        kid = signer.key_id
        await conn.execute(checkpoints.insert().values(
            position=pos, hash=prev, at=now, key_id=kid, signature=signer.sign(checkpoint_message(pos, prev, now, kid))))
        values.update(sealed_position=pos, sealed_at=now)
    if rows or "sealed_position" in values:
        await conn.execute(head.update().where(head.c.id == 1).values(**values))
    return len(rows)
