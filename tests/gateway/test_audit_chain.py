"""The chain itself: every tamper kind at the start, middle and end is found at the right position;
a careful forger (hashes recomputed) is caught by the signed checkpoints; several processes
append one consistent chain on SQLite and on PostgreSQL."""
from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.audit.chain import SealPolicy
from gateway.audit.keys import Signer, load_public
from gateway.audit.record import canonical, link
from gateway.audit.store import AuditStore
from tests.gateway.audit_support import ROOT, audit_settings, check, cli, cli_env, pg_database, signing_key

N = 60


def entry(i: int) -> dict[str, object]:
    return {"at": time.time(), "user": f"user{i % 3}", "roles": ["committee_worker"], "outcome": "ok",
            "coordinates": {"Query.persons": "allow", "Person.idNumber": "masked"}, "rows": 2,
            "subjects": {f"31010719800101{i:04d}", f"31010719800102{i:04d}"}}


def write(url: str, key_file: Path, n: int, start: int = 0) -> None:
    async def run() -> None:
        from cryptography.hazmat.primitives import serialization as ser

        private = ser.load_pem_private_key(key_file.read_bytes(), password=None)
        store = AuditStore(url, b"k" * 40, Signer(private), policy=SealPolicy(10, 3600), batch_records=7,  # type: ignore[arg-type]
                           batch_s=0.005)
        await store.start()
        for i in range(start, start + n):
            store.record(entry(i))
            if i % 5 == 0:
                await asyncio.sleep(0.002)
        await store.stop()
    asyncio.run(run())


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("chain")
    write(audit_settings(folder)["audit_url"], signing_key(folder), N)
    return folder


# --- tampering, as someone with write access to the database would ----------------------------
def _row(db: sqlite3.Connection, p: int) -> tuple[str, str, str]:
    got = db.execute("SELECT prev, hash, body FROM audit_records WHERE position = ?", (p,)).fetchone()
    assert got is not None
    return got  # type: ignore[no-any-return]


def _shift(db: sqlite3.Connection, first: int, by: int) -> None:
    for table in ("audit_records", "audit_subjects"):  # two steps: positions stay unique throughout
        db.execute(f"UPDATE {table} SET position = -(position + ?) WHERE position >= ?", (by, first))
        db.execute(f"UPDATE {table} SET position = -position WHERE position < 0")


def edit(db: sqlite3.Connection, p: int) -> None:
    body = json.loads(_row(db, p)[2])
    body["user"] = "mallory"
    db.execute("UPDATE audit_records SET body = ?, user_id = 'mallory' WHERE position = ?", (canonical(body), p))


def delete(db: sqlite3.Connection, p: int) -> None:
    db.execute("DELETE FROM audit_records WHERE position = ?", (p,))
    db.execute("DELETE FROM audit_subjects WHERE position = ?", (p,))


def insert(db: sqlite3.Connection, p: int) -> None:
    """A forged record slipped in before position p, with a correct hash linking to p - 1."""
    prev = _row(db, p - 1)[1] if p > 1 else "0" * 64
    body = json.loads(_row(db, p)[2])
    body.update(uid="f" * 32, user="mallory", subjects=[])
    text = canonical(body)
    _shift(db, p, 1)
    db.execute("INSERT INTO audit_records (position, uid, at, day, user_id, outcome, prev, hash, body) "
               "SELECT ?, ?, at, day, 'mallory', outcome, ?, ?, ? FROM audit_records WHERE position = ?",
               (p, "f" * 32, prev, link(p, prev, text), text, p + 1))
    db.execute("UPDATE audit_head SET position = position + 1")


def reorder(db: sqlite3.Connection, p: int) -> None:
    for table in ("audit_records", "audit_subjects"):
        db.execute(f"UPDATE {table} SET position = -1 WHERE position = ?", (p,))
        db.execute(f"UPDATE {table} SET position = ? WHERE position = ?", (p, p + 1))
        db.execute(f"UPDATE {table} SET position = ? WHERE position = -1", (p + 1,))


def truncate(db: sqlite3.Connection, p: int) -> None:
    """Everything from p on removed, the head row rewound to match (it is not signed)."""
    db.execute("DELETE FROM audit_records WHERE position >= ?", (p,))
    db.execute("DELETE FROM audit_subjects WHERE position >= ?", (p,))
    prev = _row(db, p - 1)[1] if p > 1 else "0" * 64
    db.execute("UPDATE audit_head SET position = ?, hash = ?", (p - 1, prev))


TAMPER: dict[str, Callable[[sqlite3.Connection, int], None]] = {
    "edit": edit, "delete": delete, "insert": insert, "reorder": reorder, "truncate": truncate}
WHERE = {"start": 1, "middle": N // 2, "end": N}


@pytest.mark.parametrize("where", list(WHERE))
@pytest.mark.parametrize("kind", list(TAMPER))
def test_each_tamper_kind_is_found_at_its_position(chain: Path, tmp_path: Path, kind: str, where: str) -> None:
    p = WHERE[where] - (1 if kind == "reorder" and where == "end" else 0)  # the last pair swaps N-1 and N
    shutil.copy(chain / "audit.db", tmp_path / "audit.db")
    url = audit_settings(tmp_path)["audit_url"]
    with sqlite3.connect(tmp_path / "audit.db") as db:
        TAMPER[kind](db, p)
    report = check(url, signing_key(chain))
    assert not report.ok
    assert report.first is not None and report.first.position == p, report.as_dict()


def test_untouched_chain_verifies_sealed_to_the_end(chain: Path) -> None:
    report = check(audit_settings(chain)["audit_url"], signing_key(chain))
    assert report.ok, report.as_dict()
    assert (report.records, report.last, report.sealed) == (N, N, N)  # stop() sealed the tail
    assert report.checkpoints >= N // (10 + 7)  # sealed every 10 records, at the end of a batch of 7


def test_careful_forger_is_caught_by_the_next_checkpoint(chain: Path, tmp_path: Path) -> None:
    """Record 25 rewritten and every hash after it recomputed: only the signatures can tell."""
    shutil.copy(chain / "audit.db", tmp_path / "audit.db")
    with sqlite3.connect(tmp_path / "audit.db") as db:
        edit(db, 25)
        prev = _row(db, 24)[1]
        for p in range(25, N + 1):
            body = _row(db, p)[2]
            h = link(p, prev, body)
            db.execute("UPDATE audit_records SET prev = ?, hash = ? WHERE position = ?", (prev, h, p))
            prev = h
        db.execute("UPDATE audit_head SET hash = ?", (prev,))
        sealed = db.execute("SELECT max(position) FROM audit_checkpoints WHERE position < 25").fetchone()[0]
    report = check(audit_settings(tmp_path)["audit_url"], signing_key(chain))
    assert report.first is not None and report.first.kind == "rewritten"
    assert report.first.position == sealed + 1  # after the last checkpoint that still matches


@pytest.mark.parametrize("damage", ["index", "subject", "signature"])
def test_columns_subjects_and_signatures_are_checked(chain: Path, tmp_path: Path, damage: str) -> None:
    shutil.copy(chain / "audit.db", tmp_path / "audit.db")
    with sqlite3.connect(tmp_path / "audit.db") as db:
        if damage == "index":  # the query columns lie about the body: queries would miss the record
            db.execute("UPDATE audit_records SET user_id = 'someone_else' WHERE position = 7")
        elif damage == "subject":  # a person's trace removed from the look-up table
            db.execute("DELETE FROM audit_subjects WHERE rowid = (SELECT min(rowid) FROM audit_subjects "
                       "WHERE position = 7)")
        else:
            db.execute("UPDATE audit_checkpoints SET signature = CASE WHEN signature LIKE '0%' THEN '1' ELSE '0' "
                       "END || substr(signature, 2) WHERE position = (SELECT min(position) FROM audit_checkpoints WHERE position >= 7)")
        signed = db.execute("SELECT min(position) FROM audit_checkpoints WHERE position >= 7").fetchone()[0]
    report = check(audit_settings(tmp_path)["audit_url"], signing_key(chain))
    kinds = {"index": "index_mismatch", "subject": "subjects_mismatch", "signature": "bad_checkpoint"}
    assert report.first is not None and report.first.kind == kinds[damage], report.as_dict()
    assert report.first.position == (7 if damage != "signature" else signed)


def test_verify_command_exits_1_naming_the_position(chain: Path, tmp_path: Path) -> None:
    shutil.copy(chain / "audit.db", tmp_path / "audit.db")
    env = cli_env({**audit_settings(tmp_path), "audit_signing_key": signing_key(chain)})
    ok = cli("audit", "verify", "--json", env=env)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["records"] == N
    with sqlite3.connect(tmp_path / "audit.db") as db:
        reorder(db, 40)
    bad = cli("audit", "verify", "--json", env=env)
    assert bad.returncode == 1, bad.stderr
    assert json.loads(bad.stdout)["first_bad"]["position"] == 40
    other = cli("audit", "verify", "--public-key", str(signing_key(tmp_path / "..")), env=env)  # a foreign key
    assert other.returncode == 1
    assert "bad_checkpoint" in other.stdout


# --- several writer processes, one chain ------------------------------------------------------
WRITER = """
import sys
from pathlib import Path
sys.path.insert(0, {root!r})
from tests.gateway.test_audit_chain import write
write(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
"""


def concurrent_writers(url: str, key: Path, processes: int, each: int) -> None:
    code = WRITER.format(root=str(ROOT))
    procs = [subprocess.Popen([sys.executable, "-c", code, url, str(key), str(each), str(i * each)])
             for i in range(processes)]
    assert [p.wait(timeout=300) for p in procs] == [0] * processes


def test_processes_write_one_chain_on_sqlite(tmp_path: Path) -> None:
    settings = audit_settings(tmp_path)
    concurrent_writers(settings["audit_url"], signing_key(tmp_path), 3, 400)
    report = check(settings["audit_url"], signing_key(tmp_path))
    assert report.ok, report.as_dict()
    assert report.records == 1200 and report.sealed == 1200


def test_processes_write_one_chain_on_postgresql(tmp_path: Path) -> None:
    with pg_database("audit_chain") as url:
        concurrent_writers(url, signing_key(tmp_path), 3, 300)
        report = check(url, signing_key(tmp_path))
        assert report.ok, report.as_dict()
        assert report.records == 900 and report.sealed == 900
        assert load_public(signing_key(tmp_path))  # the same key signed every process's checkpoints
