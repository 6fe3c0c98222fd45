"""POST /graphql: authenticate, parse with limits, execute through the schema, audit, answer.

Every request leaves exactly one audit entry, including the ones refused before execution.
"""
from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from graphql import DocumentNode, FragmentDefinitionNode, OperationDefinitionNode, OperationType
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from adapters.guard import REQUEST_START
from common.errors import (
    AuditUnavailableError,
    BadRequestError,
    GatewayError,
    IntrospectionDisabledError,
    QueryCostError,
    RateLimitedError,
    RequestTimeoutError,
    RequestTooLargeError,
    SlowBodyError,
    UnauthorizedFieldError,
)
from gateway import echo, introspection, limits, request_id
from gateway.auth import authenticate
from gateway.errors import error_body, format_error
from gateway.secure import stats_key
from resolvers.access import Access
from resolvers.audit_fields import decisions, standing_purposes
from resolvers.context import Limits, Principal, RequestContext
from resolvers.cost import operation_cost

TRACE_HEADER = "x-gateway-trace"
# graphql-core's "Did you mean ...?" names schema fields: shown only where introspection is on
SUGGESTION = re.compile(r" ?Did you mean [^?]*\?")
INTERNAL = GatewayError("internal error")
log = logging.getLogger("gateway")


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def by_root(errors: list[Any], data: Any) -> list[Any]:
    """Errors in the document order of their root field (root fields run concurrently and fail in any
    order); within a root field, in the order they were raised."""
    order = {k: i for i, k in enumerate(data)} if isinstance(data, dict) else {}
    return sorted(errors, key=lambda e: order.get(e.path[0], -1) if e.path else -1)


class GraphQLView:
    def __init__(self, gw: Any) -> None:
        self.gw = gw
        s = gw.settings
        self.introspection_on = s.dev_mode if s.introspection is None else s.introspection
        self.limits = Limits(default_page=s.default_page, max_page=s.max_page, k_anonymity=s.k_anonymity,
                             stats_key=stats_key(s))

    async def get(self, request: Request) -> Response:
        """GraphiQL for a browser in dev/demo mode; any other GET is 405: queries are POSTed (no GET queries)."""
        # imported here, not at the top: GraphiQL and this error are this method's alone
        from common.errors import MethodNotAllowedError
        from gateway import graphiql

        wants_page = "text/html" in request.headers.get("accept", "")
        if self.gw.settings.dev_mode and wants_page:
            return HTMLResponse(graphiql.render(request), headers=graphiql.HEADERS)
        e = MethodNotAllowedError("GraphiQL is served in dev/demo mode only; POST queries here"
                                  if wants_page else "queries are POSTed here as JSON; GET serves GraphiQL to "
                                  "browsers in dev/demo mode only")
        refused = _json(error_body(e), e.status)
        refused.headers["Allow"] = "GET, POST" if self.gw.settings.dev_mode else "POST"  # RFC 9110: 405 names them
        return refused

    async def post(self, request: Request) -> Response:
        async def asked() -> tuple[Principal, str, dict[str, Any], str | None]:
            principal = await authenticate(self.gw.settings, request.headers.get("authorization"),
                                           request.headers.get("x-purpose"))
            await self.gw.limiter.hit(principal.user, principal.roles)  # 429 RATE_LIMITED, the same on every replica
            return (principal, *await self._body(request))

        status, body = await self.run(asked, request.client.host if request.client else None,
                                      request.headers.get(TRACE_HEADER) == "1")
        response = _json(body, status)
        if status == RateLimitedError.status:  # RFC 9110: when to try again
            response.headers["Retry-After"] = str(body["errors"][0]["extensions"].get("retry_after_s", 1))
        if status in (SlowBodyError.status, RequestTooLargeError.status):  # the body is left unread: close
            response.headers["Connection"] = "close"  # rather than drain (a declared 10 GB) or wait for the rest
        return response

    async def run(self, asked: Callable[[], Awaitable[tuple[Principal, str, dict[str, Any], str | None]]],
                  client: str | None, want_trace: bool = False) -> tuple[int, dict[str, Any]]:
        """One operation, from who asks and what (``asked``: authenticated, read and parsed, or a
        GatewayError) to the answer: limited, costed, authorized, executed within the deadline and
        audited, whatever the outcome. A POST is one; so is each page of a ledger export."""
        t0 = time.perf_counter()
        REQUEST_START.set(asyncio.get_running_loop().time())  # department timeouts count from here
        entry: dict[str, Any] = {"at": time.time(), "request_id": request_id.current(), "client": client}
        principal: Principal | None = None
        pieces: list[str] = []
        try:
            principal, query, variables, op_name = await asked()
            entry.update(user=principal.user, roles=principal.roles, jurisdiction=principal.jurisdiction,
                         purpose=principal.purpose)
            self.gw.engine.check_purpose(principal.purpose)
            pieces = echo.long_inputs(query, variables)
            entry.update(query=query, operation_name=op_name)  # the audit hashes the normalised document
            s = self.gw.settings
            doc = limits.checked_document(query, s.max_tokens, s.max_depth, s.max_aliases)
            entry["document"] = doc
            op = limits.check_operation(doc, op_name)
            entry["operation_name"] = op.name.value if op.name else op_name
            try:
                async with asyncio.timeout(s.request_deadline_s):
                    status, body = await self._execute(principal, doc, op, query, variables, op_name, want_trace,
                                                       entry)
            except TimeoutError:
                raise RequestTimeoutError(f"the request took longer than its deadline of {s.request_deadline_s} s",
                                          deadline_s=s.request_deadline_s) from None
        except GatewayError as e:
            entry.update(outcome=e.code)
            log.info("refused [%s] %s", e.code, echo.clip(e.message, pieces),
                     extra={"code": e.code, "user": principal.user if principal else None})
            status, body = e.status, error_body(e)
        except Exception:  # a bug of ours: logged in full, answered with a stable code and nothing else
            log.exception("unhandled error in /graphql")
            entry.update(outcome=INTERNAL.code)
            status, body = 500, error_body(INTERNAL)
        for err in body.get("errors") or ():
            msg = echo.clip(str(err.get("message", "")), pieces)
            err["message"] = msg if self.introspection_on else SUGGESTION.sub("", msg)
        entry["ms"] = round((time.perf_counter() - t0) * 1000, 2)
        self.gw.audit.record(entry)
        return status, body

    async def _read(self, request: Request) -> bytes:
        """The body, refused as soon as it is known to be over the limit (never buffered whole)."""
        cap = self.gw.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > cap:
            raise RequestTooLargeError(f"the request body is larger than {cap} bytes", max=cap)
        chunks: list[bytes] = []
        size = 0
        deadline = self.gw.settings.request_deadline_s
        try:  # a client that stops sending mid-body (slow body, short Content-Length) is not waited on forever
            async with asyncio.timeout(deadline):
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > cap:
                        raise RequestTooLargeError(f"the request body is larger than {cap} bytes", max=cap)
                    chunks.append(chunk)
        except TimeoutError:
            raise SlowBodyError(f"the request body did not arrive within {deadline} s", deadline_s=deadline) from None
        return b"".join(chunks)

    async def _body(self, request: Request) -> tuple[str, dict[str, Any], str | None]:
        raw = await self._read(request)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise BadRequestError("the request body must be JSON: {\"query\": ..., \"variables\": {...}}") from None
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            raise BadRequestError("the request body must be a JSON object with a string `query`")
        variables = body.get("variables")
        variables = {} if variables is None else variables  # absent or null only: "", [] and false are refused
        op = body.get("operationName")
        if not isinstance(variables, dict):
            raise BadRequestError("`variables` must be a JSON object", argument="variables")
        cap = self.gw.settings.max_variables_bytes
        if variables and len(orjson.dumps(variables)) > cap:
            raise RequestTooLargeError(f"`variables` are larger than {cap} bytes", argument="variables", max=cap)
        if op is not None and not isinstance(op, str):
            raise BadRequestError("`operationName` must be a string", argument="operationName")
        return body["query"], variables, op

    async def _execute(self, principal: Principal, doc: DocumentNode, op: OperationDefinitionNode, query: str,
                       variables: dict[str, Any], op_name: str | None, want_trace: bool,
                       entry: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        gw = self.gw
        access = Access(gw.engine, principal.roles, principal.purpose, gw.meta, gw.type_fields,
                        gw.settings.auth_mode)
        if introspection.introspects(doc):
            return self._introspect(principal, access, doc, op, variables, op_name, entry)
        fragments = {d.name.value: d for d in doc.definitions if isinstance(d, FragmentDefinitionNode)}
        entry["standing_purposes"] = standing_purposes(access)
        entry["coordinates"], sensitive = decisions(gw.schema._schema, op, fragments, variables, access, gw.policed)
        cost = operation_cost(gw.schema._schema, op, fragments, variables, gw.fanout, gw.settings.default_page)
        budget = gw.engine.budget(principal.roles) or gw.settings.cost_budget
        entry["cost"] = cost.fields
        if cost.fields > budget:
            raise QueryCostError(f"the operation would cost about {cost.fields} field values; the budget is {budget}",
                                 cost=cost.fields, budget=budget)
        if not gw.audit.admits(sensitive):  # fail closed: nothing sensitive leaves unrecorded
            raise AuditUnavailableError("the audit store cannot record this request now; it was not run")
        answers = gw.answers
        key = None
        if answers.on and op.operation == OperationType.QUERY and not sensitive and not want_trace:
            key = answers.key(gw.engine.version, principal.roles, principal.purpose, principal.jurisdiction,
                              principal.user if access.row_rules else None, doc, op_name, variables)
            kept = await answers.get(key)
            if kept is not None:  # answered before to a caller authorized exactly alike: still audited
                entry.update(outcome="ok", adapters=[], rows=kept["rows"], types=kept["types"], subjects=set(),
                             writes=[], errors=[])
                return 200, kept["body"]
        ctx = RequestContext(principal, gw.registry, gw.ids, access, self.limits, audit=gw.audit,
                             stats_cache=gw.stats_cache, keysets=gw.keysets, counts=gw.counts, alerts=gw.alerts,
                             compiled=gw.settings.execution == "compiled")
        result = await gw.schema.execute(query, variable_values=variables, context_value=ctx, operation_name=op_name)
        body: dict[str, Any] = {}
        if result.errors:
            body["errors"] = [format_error(e) for e in by_root(result.errors, result.data)]
            for e in body["errors"]:
                ext = e.get("extensions") or {}
                if ext.get("code") == UnauthorizedFieldError.code and ext.get("coordinate"):
                    log.warning("denied %s to %s", ext["coordinate"], principal.user,
                                extra={"user": principal.user, "coordinate": ext["coordinate"]})
                elif ext.get("code") != INTERNAL.code:  # internal ones were logged in full by format_error
                    log.info("field error [%s] at %s", ext.get("code"), e.get("path"),
                             extra={"code": ext.get("code"), "user": principal.user})
        body["data"] = result.data
        ext = dict(result.extensions or {})
        if want_trace and access.can_use("Gateway.trace"):
            ext["trace"] = {"adapters": ctx.trace.as_dict(),
                            "cost": {"estimated": cost.fields, "budget": budget, "estimatedRows": cost.rows,
                                     "rows": ctx.rows_returned}}
        if ext:
            body["extensions"] = ext
        if key is not None and not result.errors and not ctx.subjects:
            await answers.put(key, {"body": body, "rows": ctx.rows_returned, "types": ctx.rows_by_type},
                              answers.ttl(ctx.trace.called()))
        entry.update(outcome="error" if result.errors and result.data is None else "ok",
                     adapters=ctx.trace.called(), rows=ctx.rows_returned, types=ctx.rows_by_type,
                     subjects=ctx.subjects, writes=ctx.writes,
                     errors=sorted({e["extensions"]["code"] for e in body.get("errors", [])}))
        return 200, body

    def _introspect(self, principal: Principal, access: Access, doc: DocumentNode, op: OperationDefinitionNode,
                    variables: dict[str, Any], op_name: str | None, entry: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        gw = self.gw
        if not self.introspection_on:
            raise IntrospectionDisabledError("introspection is disabled on this gateway")
        if introspection.root_fields(doc, op) - {"__schema", "__type", "__typename"}:
            raise BadRequestError("send introspection (__schema, __type) as its own operation, without data fields",
                                  argument="query")
        key = (gw.engine.version, principal.roles, principal.purpose, gw.settings.auth_mode)
        schema = gw.introspection.schema_for(key, access.readable)
        result = gw.introspection.run(schema, doc, variables, op_name)
        body: dict[str, Any] = {}
        if result.errors:
            body["errors"] = [format_error(e) for e in result.errors]
        body["data"] = result.data
        entry.update(outcome="ok" if not result.errors else "error", adapters=[], rows=0,
                     errors=sorted({e["extensions"]["code"] for e in body.get("errors", [])}))
        return 200, body
