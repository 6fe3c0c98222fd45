"""POST /graphql: authenticate, parse with limits, execute through the schema, audit, answer.

Every request leaves exactly one audit entry, including the ones refused before execution.
"""
from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from common.errors import BadRequestError, GatewayError
from gateway import limits
from gateway.auth import authenticate
from gateway.errors import error_body, format_error
from resolvers.access import Access
from resolvers.context import Limits, Principal, RequestContext

TRACE_HEADER = "x-gateway-trace"
INTERNAL = GatewayError("internal error")
log = logging.getLogger("gateway")


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


class GraphQLView:
    def __init__(self, gw: Any) -> None:
        self.gw = gw
        s = gw.settings
        self.limits = Limits(default_page=s.default_page, max_page=s.max_page, k_anonymity=s.k_anonymity,
                             stats_key=hashlib.sha256(b"stats-rounding:" + s.id_secret.encode()).digest())

    async def get(self, request: Request) -> Response:
        if not self.gw.settings.dev_mode:
            return _json({"errors": [{"message": "GraphiQL is served in dev/demo mode only; POST queries here",
                                      "extensions": {"code": "METHOD_NOT_ALLOWED"}}]}, 405)
        from strawberry.utils.graphiql import get_graphiql_html

        return HTMLResponse(get_graphiql_html())

    async def post(self, request: Request) -> Response:
        t0 = time.perf_counter()
        entry: dict[str, Any] = {"at": time.time()}
        try:
            principal = authenticate(self.gw.settings, request.headers.get("authorization"),
                                     request.headers.get("x-purpose"))
            entry.update(user=principal.user, roles=principal.roles, jurisdiction=principal.jurisdiction,
                         purpose=principal.purpose)
            self.gw.engine.check_purpose(principal.purpose)
            query, variables, op_name = await self._body(request)
            entry["operation"] = hashlib.sha256(query.encode()).hexdigest()[:16]
            doc = limits.parse_limited(query, self.gw.settings.max_tokens, self.gw.settings.max_depth)
            limits.check(doc, self.gw.settings.max_depth, self.gw.settings.max_aliases)
            limits.check_operation(doc, op_name)
            status, body = await self._execute(principal, query, variables, op_name,
                                               request.headers.get(TRACE_HEADER) == "1", entry)
        except GatewayError as e:
            entry.update(outcome=e.code)
            status, body = e.status, error_body(e)
        except Exception:  # a bug of ours: logged in full, answered with a stable code and nothing else
            log.exception("unhandled error in /graphql")
            entry.update(outcome=INTERNAL.code)
            status, body = 500, error_body(INTERNAL)
        entry["ms"] = round((time.perf_counter() - t0) * 1000, 2)
        self.gw.audit.record(entry)
        return _json(body, status)

    async def _body(self, request: Request) -> tuple[str, dict[str, Any], str | None]:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            raise BadRequestError("the request body must be JSON: {\"query\": ..., \"variables\": {...}}") from None
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            raise BadRequestError("the request body must be a JSON object with a string `query`")
        variables = body.get("variables") or {}
        op = body.get("operationName")
        if not isinstance(variables, dict):
            raise BadRequestError("`variables` must be a JSON object", argument="variables")
        if op is not None and not isinstance(op, str):
            raise BadRequestError("`operationName` must be a string", argument="operationName")
        return body["query"], variables, op

    async def _execute(self, principal: Principal, query: str, variables: dict[str, Any], op: str | None,
                       want_trace: bool, entry: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        gw = self.gw
        access = Access(gw.engine, principal.roles, principal.purpose, gw.meta, gw.type_fields,
                        gw.settings.auth_mode)
        ctx = RequestContext(principal, gw.registry, gw.ids, access, self.limits)
        result = await gw.schema.execute(query, variable_values=variables, context_value=ctx, operation_name=op)
        body: dict[str, Any] = {}
        if result.errors:
            body["errors"] = [format_error(e) for e in result.errors]
        body["data"] = result.data
        ext = dict(result.extensions or {})
        if want_trace and access.can_use("Gateway.trace"):
            ext["trace"] = {"adapters": ctx.trace.as_dict()}
        if ext:
            body["extensions"] = ext
        entry.update(outcome="error" if result.errors and result.data is None else "ok",
                     adapters=ctx.trace.called(), rows=ctx.rows_returned,
                     errors=sorted({e["extensions"]["code"] for e in body.get("errors", [])}))
        return 200, body
