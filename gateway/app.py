"""The application factory: builds every part once and composes the routes in plain sight."""
from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Sized
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from adapters.guard import Defaults
from adapters.registry import Registry
from gateway import graphiql, ledgers
from gateway.alerts.feed import AlertFeed
from gateway.alerts.store import AlertStore
from gateway.audit import AuditSink
from gateway.audit.store import AuditStore
from gateway.graphql_view import GraphQLView
from gateway.introspection import Introspection
from gateway.ledgers import LedgerExport
from gateway.memory import freeze_after_start
from gateway.request_id import RequestIdMiddleware
from gateway.response_cache import ResponseCache
from gateway.settings import Settings, load_settings, parse_rate_limits
from gateway.shared import BreakerBoard, RateLimiter, Shared
from gateway.subscriptions import Subscriptions
from policies.engine import PolicyEngine
from resolvers.fanout import Fanout
from resolvers.ids import IdCodec
from resolvers.refreshing import Refreshing
from resolvers.schema_def import build_schema, sdl, type_fields
from resolvers.stats_lattice import Lattice
from schema.build import core
from schema.model import default_model, model_of

FANOUT_MEASURE_S = 10.0


class Gateway:
    """Everything a request needs, built once at start-up (a bad spec or policy stops here)."""

    def __init__(self, settings: Settings, registry: Registry | None = None, engine: Any = None,
                 audit: AuditSink | None = None) -> None:
        self.settings = settings
        self.registry = registry or Registry.from_dir(settings.adapters_dir, core(), os.environ)
        # the schema: the core plus what the departments' specs declare
        self.model = model_of(self.registry.specs) if self.registry.specs else default_model()
        self.meta = self.model.meta
        self.engine = engine or PolicyEngine(settings.policy_dir, self.meta)
        self.schema = build_schema(self.model)
        self.type_fields = type_fields(self.model)
        self.policed = self.model.policed
        self.ids = IdCodec(settings.id_secret.encode())
        self.audit = audit or AuditStore.from_settings(settings)
        self.fanout = Fanout(relations=self.model.relations)
        self.introspection = Introspection(sdl(self.model), self.policed)
        # values many requests share, kept and refreshed behind them (resolvers/refreshing.py), bounded by
        # weight: 2M finest cells (about two district lattices), 1M keys, 100,000 counts
        self.stats_cache = (Refreshing[Lattice]("stats", settings.stats_cache_s, settings.stats_timeout_s,
                                                max_weight=2_000_000, weigh=lambda lat: len(lat.protected) + 1)
                            if settings.stats_cache_s else None)
        self.keysets = (Refreshing[Sized]("keyset", settings.keyset_cache_s, settings.stats_timeout_s,
                                                   max_weight=1_000_000, weigh=lambda keys: len(keys) + 1)
                        if settings.keyset_cache_s else None)
        # what the replicas share through Redis, or this process keeps alone (gateway/shared.py)
        self.shared = Shared(settings.redis_url, settings.redis_prefix)
        self.limiter = RateLimiter(self.shared, parse_rate_limits(settings.rate_limits))
        self.breakers = BreakerBoard(self.shared, {a.name: a for a in self.registry})
        self.answers = ResponseCache(self.shared, settings.response_cache_s,
                                     {a.name: a.limits.cache_ttl_s for a in self.registry})
        # the water alerts the alert workers raise (gateway/alerts): delivered and acknowledged here
        self.alerts = AlertFeed(AlertStore.from_settings(settings), settings.alerts_poll_s)
        self.counts = (Refreshing[int]("count", settings.keyset_cache_s, settings.stats_timeout_s, max_weight=100_000)
                       if settings.keyset_cache_s else None)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """From the background health checks (never waits on a department): 200 while the gateway can serve;
    503 while starting and when a department named in `ready_required` is down."""
    gw: Gateway = request.app.state.gateway
    required = {s.strip() for s in gw.settings.ready_required.split(",") if s.strip()}
    ok, body = gw.registry.readiness(required)
    body["audit"] = gw.audit.status()
    return JSONResponse(body, status_code=200 if ok else 503)


def department_defaults(s: Settings) -> Defaults:
    return Defaults(timeout_s=s.department_timeout_s, max_concurrency=s.department_max_concurrency,
                    breaker_threshold=s.breaker_threshold, breaker_cooldown_s=s.breaker_cooldown_s,
                    health_interval_s=s.health_interval_s, bad_rows_ratio=s.ledger_bad_rows_ratio)


async def metrics(request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


# Outermost first: every request gets its id before anything can log about it.
MIDDLEWARE = [Middleware(RequestIdMiddleware)]


def admin_routes() -> list[Route]:
    """/readyz and /metrics: on the main port, or only on the admin port when `admin_port` is set."""
    return [Route("/readyz", readyz, methods=["GET"]), Route("/metrics", metrics, methods=["GET"])]


def create_admin_app(gw: Gateway) -> Starlette:
    """The app of the admin port: health, readiness and metrics of the same gateway, no GraphQL."""
    app = Starlette(routes=[Route("/healthz", healthz, methods=["GET"]), *admin_routes()], middleware=MIDDLEWARE)
    app.state.gateway = gw
    return app


def create_app(settings: Settings | None = None, gateway: Gateway | None = None) -> Starlette:
    gw = gateway or Gateway(settings or load_settings())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gw.audit.start()  # migrations, the writer task
        await gw.alerts.start()
        gw.registry.start(department_defaults(gw.settings))  # health loops, ledger loading: in the background
        await gw.breakers.start()  # breakers opened on other replicas open here too
        with contextlib.suppress(TimeoutError):  # cost estimates; a silent department keeps the default
            await asyncio.wait_for(gw.fanout.measure(gw.registry), FANOUT_MEASURE_S)
        freezing = asyncio.create_task(freeze_after_start(gw.registry))
        yield
        freezing.cancel()
        await gw.registry.close()
        await gw.alerts.stop()
        await gw.breakers.stop()
        await gw.shared.close()
        await gw.audit.stop()  # drains the buffer, seals a last checkpoint

    view = GraphQLView(gw)
    app = Starlette(
        routes=[
            Route("/graphql", view.post, methods=["POST"]),
            Route("/graphql", view.get, methods=["GET"]),
            WebSocketRoute("/graphql", Subscriptions(gw, view.limits).endpoint),
            Route("/ledgers/{name}", LedgerExport(view, ledgers.load(gw.settings.ledgers_dir),
                                                  gw.settings.ledger_max_rows).get, methods=["GET"]),
            *graphiql.routes(gw.settings),  # GraphiQL's own JS/CSS, dev/demo mode only
            Route("/healthz", healthz, methods=["GET"]),
            *(admin_routes() if gw.settings.admin_port is None else ()),
        ],
        middleware=MIDDLEWARE,
        lifespan=lifespan,
    )
    app.state.gateway = gw
    return app
