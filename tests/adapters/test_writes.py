"""Writes through the adapters (spec ``write:``): a sql department's table on a real SQLite file and an
http department's endpoint on loopback. A write maps canonical values back through the field rules,
is done once per request key (retried, or twice at once), and every failure has its stable code."""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.loader import load_spec
from adapters.mapping import JURISDICTION
from adapters.registry import build
from common.errors import (
    AdapterBadDataError,
    AdapterRejectedError,
    AdapterUnavailableError,
    OperationNotSupportedError,
    SpecError,
)
from schema.build import catalogue
from tests.stand import JsonHandler, Served

TYPES = """\
enums:
  NoteKind:
    values: [HOME, PHONE]
types:
  Note:
    description: "A committee's note about a resident."
    fields:
      noteId: {type: String, description: "Note number."}
      idNumber: {type: String, description: "ID number.", sensitive: identity, mask: id_number}
      date: {type: Date, description: "Day of the visit."}
      kind: {type: NoteKind, description: "How."}
      text: {type: String, description: "What was found."}
      followUp: {type: Boolean, description: "Needs another visit."}
    links:
      Person.notes: {by: idNumber, many: true, description: "Notes."}
"""
FIELDS = """\
    fields:
      noteId: {source: id, transform: [str]}
      idNumber: {source: sfzh, transform: [id_number]}
      date: {source: rq, transform: [{date: "%Y%m%d"}]}
      kind: {source: lx, transform: [{map: {"1": HOME, "2": PHONE}}]}
      text: {source: bz}
      followUp: {source: gz, transform: [{map: {1: true, 0: false}}]}
"""
SQL = """\
department: notes
title: Committee notes
kind: sql
connection:
  url: "sqlite+aiosqlite:///{db}"
entities:
  Note:
    table: note
    key: noteId
    jurisdiction: {{source: jwh, transform: [strip, {{prefix: "310107005"}}]}}
{fields}    filters: [idNumber]
    write: {{request_key: qqh, filled: [noteId]}}
{types}"""
PERSON = "310107195001011234"
VALUES = {"idNumber": PERSON, "date": dt.date(2026, 11, 20), "kind": "PHONE", "text": "在家，身体好",
          "followUp": True, JURISDICTION: "310107005003"}


def spec(tmp: Path, text: str) -> Path:
    folder = tmp / "notes"
    folder.mkdir(exist_ok=True)
    (folder / "spec.yaml").write_text(text, encoding="utf-8")
    return folder / "spec.yaml"


def sql_spec(tmp: Path, db: Path, fields: str = FIELDS, write: str | None = None) -> Path:
    text = SQL.format(db=db, fields=textwrap.indent(textwrap.dedent(fields), "    "), types=TYPES)
    if write is not None:
        text = text.replace("    write: {request_key: qqh, filled: [noteId]}\n", write)
    return spec(tmp, text)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "notes.db"
    with sqlite3.connect(path) as c:
        c.execute("CREATE TABLE note (id INTEGER PRIMARY KEY, sfzh TEXT NOT NULL, jwh TEXT NOT NULL, rq TEXT, "
                  "lx TEXT, bz TEXT, gz INTEGER, qqh TEXT UNIQUE)")
    return path


def rows(db: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as c:
        return c.execute("SELECT id, sfzh, jwh, rq, lx, bz, gz, qqh FROM note ORDER BY id").fetchall()


def adapter(path: Path) -> Any:
    return build(load_spec(path, catalogue()))


async def test_a_write_is_one_row_in_the_department_s_terms(tmp_path: Path, db: Path) -> None:
    a = adapter(sql_spec(tmp_path, db))
    try:
        got = await a.write("Note", VALUES, "k1")
    finally:
        await a.close()
    assert rows(db) == [(1, PERSON, "003", "20261120", "2", "在家，身体好", 1, "k1")]
    assert got == {**VALUES, "noteId": "1"}  # the record as the department holds it, its key filled in


async def test_the_same_request_key_writes_once(tmp_path: Path, db: Path) -> None:
    a = adapter(sql_spec(tmp_path, db))
    try:
        first = await a.write("Note", VALUES, "k1")
        again = await a.write("Note", {**VALUES, "text": "another text"}, "k1")  # a retry answers the first
        at_once = await asyncio.gather(*(a.write("Note", VALUES, "k2") for _ in range(8)))
        other = await a.write("Note", VALUES, "k3")
    finally:
        await a.close()
    assert again == first
    assert len({r["noteId"] for r in at_once}) == 1
    assert [r[7] for r in rows(db)] == ["k1", "k2", "k3"] and other["noteId"] == "3"


async def test_a_row_the_department_refuses_is_rejected_and_nothing_is_written(tmp_path: Path, db: Path) -> None:
    a = adapter(sql_spec(tmp_path, db))
    try:
        with pytest.raises(AdapterRejectedError):
            await a.write("Note", {**VALUES, "idNumber": None}, "k1")  # sfzh is NOT NULL there
    finally:
        await a.close()
    assert rows(db) == []


async def test_a_database_that_is_not_there_is_unavailable(tmp_path: Path) -> None:
    a = adapter(sql_spec(tmp_path, tmp_path / "missing" / "notes.db"))
    try:
        with pytest.raises(AdapterUnavailableError):
            await a.write("Note", VALUES, "k1")
    finally:
        await a.close()


async def test_an_entity_without_write_accepts_none(tmp_path: Path, db: Path) -> None:
    a = adapter(sql_spec(tmp_path, db, write=""))
    try:
        with pytest.raises(OperationNotSupportedError):
            await a.write("Note", VALUES, "k1")
    finally:
        await a.close()


@pytest.mark.parametrize(("change", "key"), [
    (("kind: sql", "kind: ledger"), "write"),  # a ledger is read-only
    (("    table: note\n", "    select: SELECT * FROM note\n"), "write"),  # a select cannot take rows
    (("text: {source: bz}", "text: {source: bz, transform: [phone]}"), "transform"),  # no inverse
    (("write: {request_key: qqh, filled: [noteId]}", "write: {path: /notes}"), "write"),  # http's shape
])
def test_a_write_the_spec_cannot_honour_is_a_spec_problem(tmp_path: Path, db: Path, change: tuple[str, str],
                                                          key: str) -> None:
    text = sql_spec(tmp_path, db).read_text(encoding="utf-8")
    assert change[0] in text
    if change[1] == "kind: ledger":
        text = text.replace(f'  url: "sqlite+aiosqlite:///{db}"', "  dir: /nonexistent").replace(
            "    table: note\n", "    file: notes.csv\n")
    path = spec(tmp_path, text.replace(*change))
    with pytest.raises(SpecError) as e:
        load_spec(path, catalogue())
    assert e.value.code == "SPEC_INVALID"
    found = [p["key"] for p in e.value.details["problems"]]
    assert len(found) == 1 and found[0].startswith("entities.Note") and found[0].endswith(key), found


class Stand:
    """An http department's write endpoint: keeps one answer per Idempotency-Key, as a department would."""

    def __init__(self) -> None:
        self.got: list[tuple[dict[str, Any], str | None]] = []
        self.kept: dict[str, dict[str, Any]] = {}
        self.answer: Any = None  # None: the stored row; otherwise this body
        self.status = 201
        stand = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                key = self.headers.get("Idempotency-Key")
                stand.got.append((body, key))
                row = stand.kept.setdefault(key or "", {**body, "id": len(stand.kept) + 1})
                self.reply(stand.status, stand.answer if stand.answer is not None else {"data": row})

        served = Served(Handler)
        self.server, self.url = served.server, served.url


@pytest.fixture
def stand() -> Iterator[Stand]:
    s = Stand()
    yield s
    s.server.shutdown()
    s.server.server_close()


def http_spec(tmp: Path, url: str) -> Path:
    return spec(tmp, f"""\
department: notes
title: Committee notes
kind: http
connection:
  base_url: "{url}"
entities:
  Note:
    key: noteId
    jurisdiction: {{source: jwh, transform: [strip, {{prefix: "310107005"}}]}}
{textwrap.indent(textwrap.dedent(FIELDS), "    ")}    filters: {{idNumber: sfzh}}
    list: {{path: /notes, items: data, scope_param: area, paging: {{style: page}}}}
    write: {{path: /notes, item: data}}
{TYPES}""")


async def test_an_http_write_posts_the_row_with_its_key(tmp_path: Path, stand: Stand) -> None:
    a = adapter(http_spec(tmp_path, stand.url))
    try:
        got = await a.write("Note", VALUES, "k1")
        again = await a.write("Note", VALUES, "k1")
    finally:
        await a.close()
    row = {"sfzh": PERSON, "rq": "20261120", "lx": "2", "bz": "在家，身体好", "gz": 1, "jwh": "003"}
    assert stand.got == [(row, "k1"), (row, "k1")]
    assert got == again == {**VALUES, "noteId": "1"}


@pytest.mark.parametrize(("status", "answer", "error"), [
    (422, {"error": "bad"}, AdapterRejectedError),
    (200, {"data": "not a row"}, AdapterBadDataError),
    (200, [{"data": {"id": 1}}], AdapterBadDataError),
])
async def test_an_http_write_s_failures_have_their_codes(tmp_path: Path, stand: Stand, status: int, answer: Any,
                                                        error: type[Exception]) -> None:
    stand.status, stand.answer = status, answer
    a = adapter(http_spec(tmp_path, stand.url))
    try:
        with pytest.raises(error):
            await a.write("Note", VALUES, "k1")
    finally:
        await a.close()
