"""The one boundary where errors become client JSON: stable codes, no internals."""
from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError

from common.errors import GatewayError

log = logging.getLogger("gateway")


def format_error(err: GraphQLError) -> dict[str, Any]:
    out: dict[str, Any] = dict(err.formatted)
    orig = err.original_error
    ext = dict(out.get("extensions") or {})
    if isinstance(orig, GatewayError):
        ext = orig.extensions()
    elif orig is not None and not isinstance(orig, GraphQLError):
        log.error("unexpected error at %s", err.path, exc_info=orig)
        out = {"message": "internal error", "path": out.get("path")}
        ext = {"code": "INTERNAL_ERROR"}
    elif "code" not in ext:
        ext["code"] = "GRAPHQL_VALIDATION_FAILED" if err.path is None else "INTERNAL_ERROR"
    out["extensions"] = ext
    return {k: v for k, v in out.items() if v is not None}


def error_body(e: GatewayError) -> dict[str, Any]:
    return {"errors": [{"message": e.message, "extensions": e.extensions()}]}
