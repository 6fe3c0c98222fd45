"""WebSocket /graphql: subscriptions over the graphql-transport-ws protocol.

The protocol as the GraphQL over WebSocket specification gives it (``connection_init`` with the
token in its payload, ``connection_ack``, ``subscribe``, ``next``, ``error``, ``complete``,
``ping``/``pong``; close codes 4400, 4401, 4403, 4408, 4409, 4429). Each subscription is checked
like a POST before it runs: document limits, cost budget, and the policy of every field it selects
(a subscription selecting a field the caller may not read is refused whole, UNAUTHORIZED_FIELD_OR_TYPE,
since it would otherwise stream nulls for as long as it lives). Each event sent is one audit
record (who received whose data), like each page of a ledger.

Queries and mutations are POSTed (gateway/graphql_view.py); here they are refused.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import orjson
from graphql import FragmentDefinitionNode, OperationDefinitionNode, OperationType
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from common.errors import (
    BadRequestError,
    GatewayError,
    QueryCostError,
    RateLimitedError,
    UnauthorizedFieldError,
)
from gateway import limits, request_id
from gateway.auth import authenticate
from gateway.errors import format_error
from resolvers.access import Access
from resolvers.audit_fields import decisions
from resolvers.authorize import denied_paths
from resolvers.context import Principal, RequestContext
from resolvers.cost import operation_cost

PROTOCOL = "graphql-transport-ws"
INIT_TIMEOUT_S = 10.0
MAX_SUBSCRIPTIONS = 16  # per connection
log = logging.getLogger("gateway")


class _Close(Exception):
    def __init__(self, code: int, reason: str) -> None:
        self.code, self.reason = code, reason


def _error_payload(e: GatewayError) -> list[dict[str, Any]]:
    return [{"message": e.message, "extensions": e.extensions()}]


class Subscriptions:
    """One WebSocket connection's subscriptions, for the gateway ``gw``."""

    def __init__(self, gw: Any, limits_: Any) -> None:
        self.gw = gw
        self.limits = limits_

    async def endpoint(self, ws: WebSocket) -> None:
        if PROTOCOL not in ws.scope.get("subprotocols", ()):
            await ws.close(code=4406, reason="Subprotocol not acceptable: use graphql-transport-ws")
            return
        await ws.accept(subprotocol=PROTOCOL)
        running: dict[str, asyncio.Task[None]] = {}
        try:
            principal = await self._init(ws)
            while True:
                msg = await self._receive(ws)
                kind = msg.get("type")
                if kind == "ping":
                    await ws.send_text('{"type":"pong"}')
                elif kind == "pong":
                    continue
                elif kind == "connection_init":
                    raise _Close(4429, "Too many initialisation requests")
                elif kind == "subscribe":
                    sid = msg.get("id")
                    if not isinstance(sid, str) or not sid or not isinstance(msg.get("payload"), dict):
                        raise _Close(4400, "subscribe needs a string id and a payload object")
                    if sid in running:
                        raise _Close(4409, f"Subscriber for {sid} already exists")
                    try:  # a subscription is one request of the caller's rate limit
                        await self.gw.limiter.hit(principal.user, principal.roles)
                    except RateLimitedError as e:
                        await self._send(ws, {"id": sid, "type": "error", "payload": _error_payload(e)})
                        continue
                    if len(running) >= MAX_SUBSCRIPTIONS:
                        await self._send(ws, {"id": sid, "type": "error", "payload": _error_payload(
                            BadRequestError(f"at most {MAX_SUBSCRIPTIONS} subscriptions per connection"))})
                        continue
                    running[sid] = asyncio.create_task(self._run(ws, principal, sid, msg["payload"], running))
                elif kind == "complete":
                    task = running.pop(str(msg.get("id")), None)
                    if task is not None:
                        task.cancel()
                else:
                    raise _Close(4400, f"unknown message type {kind!r}")
        except _Close as c:
            if ws.application_state == WebSocketState.CONNECTED:
                await ws.close(code=c.code, reason=c.reason)
        except WebSocketDisconnect:
            pass
        finally:
            for task in running.values():
                task.cancel()
            for task in running.values():
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _receive(self, ws: WebSocket) -> dict[str, Any]:
        raw = await ws.receive_text()
        if len(raw) > self.gw.settings.max_body_bytes:
            raise _Close(4400, "message too large")
        try:
            msg = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise _Close(4400, "messages are JSON objects") from None
        if not isinstance(msg, dict):
            raise _Close(4400, "messages are JSON objects")
        return msg

    async def _init(self, ws: WebSocket) -> Principal:
        try:
            async with asyncio.timeout(INIT_TIMEOUT_S):
                msg = await self._receive(ws)
        except TimeoutError:
            raise _Close(4408, "Connection initialisation timeout") from None
        if msg.get("type") == "subscribe":
            raise _Close(4401, "Unauthorized")
        if msg.get("type") != "connection_init":
            raise _Close(4400, "the first message is connection_init")
        payload = msg.get("payload") or {}
        if not isinstance(payload, dict):
            raise _Close(4400, "connection_init's payload is an object")
        given = {str(k).lower(): v for k, v in payload.items()}
        header = given.get("authorization") or ws.headers.get("authorization")
        purpose = given.get("x-purpose") or ws.headers.get("x-purpose")
        try:
            principal = await authenticate(self.gw.settings, header if isinstance(header, str) else None,
                                           purpose if isinstance(purpose, str) else None)
            self.gw.engine.check_purpose(principal.purpose)
        except GatewayError as e:
            log.info("websocket refused [%s]", e.code, extra={"code": e.code})
            raise _Close(4403, f"Forbidden: {e.code}") from None
        await ws.send_text('{"type":"connection_ack"}')
        return principal

    async def _send(self, ws: WebSocket, msg: dict[str, Any]) -> None:
        await ws.send_text(orjson.dumps(msg).decode())

    def _entry(self, principal: Principal, ws: WebSocket, query: Any, op_name: Any) -> dict[str, Any]:
        return {"at": time.time(), "request_id": request_id.new_id(), "client": ws.client.host if ws.client else None,
                "user": principal.user, "roles": principal.roles, "jurisdiction": principal.jurisdiction,
                "purpose": principal.purpose, "query": query if isinstance(query, str) else None,
                "operation_name": op_name if isinstance(op_name, str) else None}

    async def _run(self, ws: WebSocket, principal: Principal, sid: str, payload: dict[str, Any],
                   running: dict[str, asyncio.Task[None]]) -> None:
        query, variables, op_name = payload.get("query"), payload.get("variables") or {}, payload.get("operationName")
        entry = self._entry(principal, ws, query, op_name)
        try:
            ctx, doc = self._checked(principal, query, variables, op_name, entry)
        except GatewayError as e:
            entry.update(outcome=e.code)
            self.gw.audit.record(entry)
            await self._send(ws, {"id": sid, "type": "error", "payload": _error_payload(e)})
            running.pop(sid, None)
            return
        events = 0
        try:
            stream = self.gw.schema.subscribe(query, variable_values=variables, context_value=ctx,
                                              operation_name=op_name)
            results = await stream if asyncio.iscoroutine(stream) else stream
            async with contextlib.aclosing(results) as it:
                async for result in it:
                    events += 1
                    body: dict[str, Any] = {"data": result.data}
                    if result.errors:
                        body["errors"] = [format_error(err) for err in result.errors]
                    self.gw.audit.record({**entry, "at": time.time(), "request_id": request_id.new_id(),
                                          "document": doc, "outcome": "error" if result.errors else "ok",
                                          "adapters": ctx.trace.called(), "rows": ctx.rows_returned,
                                          "types": dict(ctx.rows_by_type), "subjects": set(ctx.subjects),
                                          "writes": [], "errors": sorted({e["extensions"].get("code", "")
                                                                          for e in body.get("errors", [])})})
                    ctx.subjects.clear()
                    ctx.rows_by_type.clear()
                    ctx.rows_returned = 0
                    await self._send(ws, {"id": sid, "type": "next", "payload": body})
            if running.pop(sid, None) is not None:
                await self._send(ws, {"id": sid, "type": "complete"})
        except (WebSocketDisconnect, asyncio.CancelledError):
            raise
        except Exception:  # a bug of ours: logged in full, the subscription ends with a stable code
            log.exception("unhandled error in a subscription")
            running.pop(sid, None)
            with contextlib.suppress(Exception):
                await self._send(ws, {"id": sid, "type": "error",
                                      "payload": _error_payload(GatewayError("internal error"))})

    def _checked(self, principal: Principal, query: Any, variables: Any, op_name: Any,
                 entry: dict[str, Any]) -> tuple[RequestContext, Any]:
        gw, s = self.gw, self.gw.settings
        if not isinstance(query, str):
            raise BadRequestError("the subscribe payload needs a string `query`", argument="query")
        if not isinstance(variables, dict):
            raise BadRequestError("`variables` must be a JSON object", argument="variables")
        if op_name is not None and not isinstance(op_name, str):
            raise BadRequestError("`operationName` must be a string", argument="operationName")
        doc = limits.checked_document(query, s.max_tokens, s.max_depth, s.max_aliases)
        op: OperationDefinitionNode = limits.check_operation(doc, op_name)
        if op.operation != OperationType.SUBSCRIPTION:
            raise BadRequestError("only subscriptions are sent over the WebSocket; POST queries and mutations",
                                  argument="query")
        access = Access(gw.engine, principal.roles, principal.purpose, gw.meta, gw.type_fields, s.auth_mode)
        fragments = {d.name.value: d for d in doc.definitions if isinstance(d, FragmentDefinitionNode)}
        entry["coordinates"], _ = decisions(gw.schema._schema, op, fragments, variables, access, gw.policed)
        cost = operation_cost(gw.schema._schema, op, fragments, variables, gw.fanout, s.default_page)
        budget = gw.engine.budget(principal.roles) or s.cost_budget
        if cost.fields > budget:
            raise QueryCostError(f"the operation would cost about {cost.fields} field values; the budget is {budget}",
                                 cost=cost.fields, budget=budget)
        ctx = RequestContext(principal, gw.registry, gw.ids, access, self.limits, audit=gw.audit,
                             keysets=gw.keysets, counts=gw.counts, alerts=gw.alerts)
        denied = denied_paths(ctx, gw.schema._schema, op, fragments, variables, gw.policed | {"Subscription"})
        if denied:
            coords = sorted({c for _, c in denied})
            raise UnauthorizedFieldError(f"not authorized to read {', '.join(coords)}", coordinate=coords[0],
                                         coordinates=coords)
        return ctx, doc

