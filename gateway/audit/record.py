"""An audit entry as the record that is stored and hashed: canonical JSON, chain links, subject hashes.

The view hands over a plain ``entry`` dict; ``prepare`` turns it into the record's content
(raw ID numbers become HMAC-SHA256 hashes, the document becomes the hash of its normalised
form) and serialises it once as canonical JSON (sorted keys, no spaces, UTF-8). The chain
hashes exactly that text: ``link(position, prev, body)`` is
``sha256("<position>\\n<prev>\\n<body>")``, so an edited, moved or re-linked record no longer
matches its hash.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from graphql import DocumentNode, print_ast

GENESIS = "0" * 64
_DOC_CACHE_SIZE = 1024
_doc_hashes: OrderedDict[str, str] = OrderedDict()


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def link(position: int, prev: str, body: str) -> str:
    return hashlib.sha256(f"{position}\n{prev}\n{body}".encode()).hexdigest()


def subject_hash(key: bytes, id_number: str) -> str:
    """The keyed hash that stands for a data subject (never the ID number itself)."""
    return hmac.new(key, id_number.strip().upper().encode(), hashlib.sha256).hexdigest()


def day_of(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).date().isoformat()


def document_hash(query: str | None, doc: DocumentNode | None) -> str | None:
    """sha256 of the normalised document (graphql-core's printed AST): whitespace, commas and comments
    do not change it. Cached by the raw text, since clients repeat their queries."""
    if doc is None or query is None:
        return None
    h = _doc_hashes.get(query)
    if h is None:
        h = hashlib.sha256(print_ast(doc).encode()).hexdigest()
        _doc_hashes[query] = h
        if len(_doc_hashes) > _DOC_CACHE_SIZE:
            _doc_hashes.popitem(last=False)
    else:
        _doc_hashes.move_to_end(query)
    return h


@dataclass(frozen=True)
class Prepared:
    """A record ready to append: its index columns, its subjects and its canonical body."""

    uid: str
    at: float
    user: str | None
    outcome: str
    subjects: tuple[str, ...]
    body: str

    @property
    def day(self) -> str:
        return day_of(self.at)


def prepare(entry: dict[str, Any], key: bytes) -> Prepared:
    subjects = tuple(sorted({subject_hash(key, s) for s in entry.get("subjects") or () if s}))
    content: dict[str, Any] = {
        "uid": uuid.uuid4().hex,
        "at": round(float(entry.get("at") or 0.0), 6),
        "request_id": entry.get("request_id"),
        "user": entry.get("user"),
        "roles": list(entry.get("roles") or ()),
        "jurisdiction": entry.get("jurisdiction"),
        "purpose": entry.get("purpose"),
        "standing_purposes": list(entry.get("standing_purposes") or ()),
        "pid": os.getpid(),  # the gateway process that recorded it
        "client": entry.get("client"),
        "operation_name": entry.get("operation_name"),
        "operation": document_hash(entry.get("query"), entry.get("document")),
        "coordinates": dict(sorted((entry.get("coordinates") or {}).items())),
        "departments": list(entry.get("adapters") or ()),
        "rows": int(entry.get("rows") or 0),
        "types": dict(sorted((entry.get("types") or {}).items())),
        "outcome": str(entry.get("outcome") or "unknown"),
        "errors": list(entry.get("errors") or ()),
        "ms": entry.get("ms"),
        "cost": entry.get("cost"),
        "subjects": list(subjects),
        "writes": list(entry.get("writes") or ()),  # records written: department, type, key
    }
    return Prepared(content["uid"], content["at"], content["user"], content["outcome"], subjects,
                    canonical(content))


def index_of(content: dict[str, Any]) -> dict[str, Any]:
    """The columns a stored record must carry, derived from its body (verify compares them)."""
    return {"uid": content.get("uid"), "at": content.get("at"), "user_id": content.get("user"),
            "outcome": content.get("outcome"), "day": day_of(float(content.get("at") or 0.0))}
