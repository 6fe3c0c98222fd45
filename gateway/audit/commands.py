"""`gateway audit verify|query|subject|summary|migrate`: the auditor's questions, one command each.

They read the store named by the settings (``audit_url``) with their own engine, so they work
against a running gateway's store or a copy of it. Exit codes: 0 answered (verify: the chain
is intact), 1 verify found tampering, 2 the question or the store could not be used.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from common.errors import AuditUnavailableError, BadRequestError
from gateway.audit import queries
from gateway.audit.db import current_revision, display, engine_for, migrate, url_of
from gateway.audit.keys import SIGNING_KEY_FILE, audit_key, load_public, signer
from gateway.audit.verify import verify
from gateway.settings import Settings

RELATIVE = re.compile(r"^(\d+)([smhd])$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_time(text: str | None) -> float | None:
    """ISO 8601 (a date, or a date and time; UTC unless it says otherwise) or a span back from now (30m, 24h, 7d)."""
    if text is None:
        return None
    m = RELATIVE.match(text.strip())
    if m:
        return time.time() - int(m.group(1)) * UNITS[m.group(2)]
    try:
        t = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadRequestError(f"not a time: {text!r} (use 2026-11-22, 2026-11-22T08:00 or 24h)",
                              argument="since") from None
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).timestamp()


def _iso(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


async def _engine(settings: Settings) -> Any:
    url = url_of(settings)
    engine = engine_for(url, max(settings.audit_timeout_s, 5.0))
    try:
        rev = await current_revision(engine)
    except (SQLAlchemyError, OSError) as e:
        await engine.dispose()
        raise AuditUnavailableError(f"cannot open the audit store {display(url)}: {type(e).__name__}") from None
    if rev is None:
        await engine.dispose()
        raise AuditUnavailableError(f"no audit store at {display(url)} (nothing recorded yet, or a wrong audit_url)")
    return engine


async def _verify(s: Settings, a: argparse.Namespace) -> int:
    if a.public_key or not s.audit_signing_key:
        path = Path(a.public_key) if a.public_key else SIGNING_KEY_FILE
        if not path.exists():
            raise AuditUnavailableError(f"no checkpoint key at {path}: give --public-key or audit_signing_key")
        public = load_public(path)
    else:
        public = signer(s).public
    engine = await _engine(s)
    try:
        report = await verify(engine, public)
    finally:
        await engine.dispose()
    if a.json:
        print(json.dumps(report.as_dict(), indent=2))
    elif report.ok:
        print(f"ok: {report.records} records, {report.checkpoints} signed checkpoints; sealed up to position "
              f"{report.sealed}, {max(0, report.last - report.sealed)} record(s) after it not yet sealed")
    else:
        first = report.first
        assert first is not None
        print(f"TAMPERED: first bad position {first.position} ({first.kind}): {first.detail}")
        for p in sorted(report.problems, key=lambda p: p.position)[1:20]:
            print(f"  also at {p.position} ({p.kind}): {p.detail}")
    return 0 if report.ok else 1


def _print_records(rows: list[dict[str, Any]]) -> None:
    for r in rows:
        fields = ",".join(f"{c}={d}" for c, d in r.get("coordinates", {}).items())
        print(f"{r['position']:>8}  {_iso(r['at'])}  {r.get('user') or '-':16} {r.get('outcome'):24} "
              f"purpose={r.get('purpose') or '-'} rows={r.get('rows')} subjects={len(r.get('subjects') or ())} "
              f"request={r.get('request_id') or '-'}  {fields}")


async def _query(s: Settings, a: argparse.Namespace) -> int:
    engine = await _engine(s)
    try:
        rows = await queries.search(engine, user=a.user, since=parse_time(a.since), until=parse_time(a.until),
                                    field=a.field, outcome=a.outcome, first=a.limit)
    finally:
        await engine.dispose()
    if a.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        _print_records(rows)
        print(f"{len(rows)} record(s)")
    return 0


async def _subject(s: Settings, a: argparse.Namespace) -> int:
    engine = await _engine(s)
    try:
        rows = await queries.accesses(engine, audit_key(s), a.id_number, a.limit)
    finally:
        await engine.dispose()
    if a.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    for r in rows:
        standing = ",".join(r.get("standing_purposes") or ()) or "-"
        print(f"{_iso(r['at'])}  {r['user'] or '-':16} roles={','.join(r['roles'])} purpose={r['purpose'] or '-'} "
              f"standing={standing} "
              f"outcome={r['outcome']} request={r['request_id'] or '-'}  fields={','.join(r['fields'])}")
    print(f"{len(rows)} release(s) of this person's data")
    return 0


async def _summary(s: Settings, a: argparse.Namespace) -> int:
    engine = await _engine(s)
    try:
        rows = await queries.summary(engine, a.day)
    finally:
        await engine.dispose()
    if a.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    print(f"{'user':20} {'requests':>8} {'subjects':>8} {'30-day median':>13}")
    for r in rows:
        flag = "  UNUSUAL" if r["unusual"] else ""
        print(f"{r['user']!s:20} {r['requests']:>8} {r['subjects']:>8} {r['median']:>13g}{flag}")
    return 0


async def _migrate(s: Settings, a: argparse.Namespace) -> int:
    url = url_of(s)
    engine = engine_for(url, max(s.audit_timeout_s, 5.0), appender=True)
    try:
        await migrate(engine)
        print(f"audit store {display(url)} at revision {await current_revision(engine)}")
    finally:
        await engine.dispose()
    return 0


ACTIONS = {"verify": _verify, "query": _query, "subject": _subject, "summary": _summary, "migrate": _migrate}


def run(settings: Settings, args: argparse.Namespace) -> int:
    try:
        return asyncio.run(ACTIONS[args.action](settings, args))
    except OSError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
