"""Logging setup: one line per record on stderr, as text or as JSON lines (setting ``log_format``).

Every record carries the id of the request it was logged in (``gateway.request_id``), and
the ``extra`` fields a caller passed, so a JSON line can be filtered without parsing text::

    setup("json")
    logging.getLogger("gateway").info("department slow", extra={"department": "housing", "ms": 812})
    # {"time": "...", "level": "INFO", "logger": "gateway", "message": "department slow",
    #  "request_id": "4f1c...", "department": "housing", "ms": 812}
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import IO, Any

from gateway import request_id

# Attributes every LogRecord has; anything else on a record came in through ``extra``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "request_id", "color_message", "taskName"}
# Libraries that log every call or connection at INFO; their warnings still show.
_QUIET = ("httpx", "httpcore", "uvicorn.error", "uvicorn.asgi")


def extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class RequestIdFilter(logging.Filter):
    """Stamps each record with the current request id (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.current()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            line.update(zip(("client", "method", "path", "http_version", "status"), record.args, strict=True))
        for key, value in extras(record).items():
            line.setdefault(key, value)
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger [request id]: message key=value ...``"""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(_rid)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        rid = getattr(record, "request_id", None)
        record._rid = f" [{rid}]" if rid else ""
        text = super().format(record)
        fields = extras(record)
        if fields:
            head, sep, tail = text.partition("\n")  # a traceback stays below the first line
            text = head + "".join(f" {k}={v}" for k, v in fields.items()) + sep + tail
        return text


_MARK = "_gateway_handler"


def setup(log_format: str = "text", level: int = logging.INFO, stream: IO[str] | None = None) -> None:
    """Route every logger to one stderr handler in the chosen format (idempotent)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    setattr(handler, _MARK, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    access = logging.getLogger("uvicorn.access")  # one line per request, with its id
    access.setLevel(logging.INFO)
    access.handlers, access.propagate = [], True
