"""The application factory: builds every part once and composes the routes in plain sight."""
from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.registry import Registry
from gateway.audit import AuditSink
from gateway.graphql_view import GraphQLView
from gateway.settings import Settings, load_settings
from policies.engine import PolicyEngine
from resolvers.ids import IdCodec
from resolvers.schema_def import build_schema, type_fields
from schema.build import catalogue, field_meta


class Gateway:
    """Everything a request needs, built once at start-up (a bad spec or policy stops here)."""

    def __init__(self, settings: Settings, registry: Registry | None = None, engine: Any = None,
                 audit: AuditSink | None = None) -> None:
        self.settings = settings
        self.meta = field_meta()
        self.registry = registry or Registry.from_dir(settings.adapters_dir, catalogue(), os.environ)
        self.engine = engine or PolicyEngine(settings.policy_dir, self.meta)
        self.schema = build_schema()
        self.type_fields = type_fields()
        self.ids = IdCodec(settings.id_secret.encode())
        self.audit = audit or AuditSink()


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    gw: Gateway = request.app.state.gateway
    adapters = list(gw.registry)
    checks = await asyncio.gather(*(a.health() for a in adapters))
    rows = [{"name": a.name, "department": a.department, "kind": a.kind, "status": h.status, "ms": h.ms,
             **({"detail": h.detail} if h.detail else {})} for a, h in zip(adapters, checks, strict=True)]
    ok = all(r["status"] == "up" for r in rows)
    return JSONResponse({"status": "ready" if ok else "degraded", "adapters": rows}, status_code=200 if ok else 503)


async def metrics(request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def create_app(settings: Settings | None = None, gateway: Gateway | None = None) -> Starlette:
    gw = gateway or Gateway(settings or load_settings())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await gw.registry.close()

    view = GraphQLView(gw)
    app = Starlette(
        routes=[
            Route("/graphql", view.post, methods=["POST"]),
            Route("/graphql", view.get, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.gateway = gw
    return app
