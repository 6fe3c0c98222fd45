"""`gateway serve [--demo]`: check everything, take the ports, start the demo departments, serve.

The order makes a failed start fail early and leave nothing behind:

0. outside demo/dev mode, demo or weak secrets stop the start (SETTINGS_INSECURE);
1. the ports are bound (a taken port stops here, before anything else has started);
2. every spec and policy file is validated (with --demo against placeholder department URLs,
   which are only known once the services run);
3. with --demo: the demo data (generated once, cached) and the seven HTTP department
   services, child processes on free loopback ports, stopped on exit and killed with the parent;
4. uvicorn serves on the bound sockets; "gateway ready" is logged once they accept requests.

With ``admin_port`` a second uvicorn server in the same event loop answers /readyz and
/metrics; the main port then answers only /graphql and /healthz.
"""
from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from common.errors import ConfigError, GatewayError, PortInUseError, SettingsError
from gateway import logs
from gateway.secure import check_production
from gateway.settings import Settings
from gateway.wire import CoalescingH11Protocol, loop_factory, no_delay

log = logging.getLogger("gateway")
PLACEHOLDER_URL = "http://127.0.0.1:9"  # stands in for a demo service's URL while validating; never called
BACKLOG = 2048


def serve(settings: Settings, demo: bool = False) -> int:
    logs.setup(settings.log_format)
    t0 = time.perf_counter()
    services: Any = None
    sockets: list[socket.socket] = []
    try:
        check_production(settings)  # before anything else: an insecure production start takes nothing
        if settings.admin_port is not None and settings.workers > 1:
            raise SettingsError("setting admin_port: needs workers = 1 (each worker process has its own "
                                "metrics)", key="admin_port")
        sockets.append(bind(settings.host, settings.port))
        if settings.admin_port is not None:
            sockets.append(bind(settings.host, settings.admin_port))
        engine = validate(settings, demo)
        if demo:
            from demo.generate import ensure_demo_data
            from demo.launch import DemoServices, demo_environment

            ensure_demo_data(settings.demo_dir, persons=settings.demo_persons, seed=settings.demo_seed,
                             progress=lambda line: log.info("%s", line.strip()))
            log.info("demo data ready in %s (%.1f s)", settings.demo_dir, time.perf_counter() - t0)
            services = DemoServices(settings.demo_dir)
            urls = services.start()
            os.environ.update(demo_environment(settings.demo_dir, urls))
            log.info("demo department services up: %s", ", ".join(f"{k}={v}" for k, v in urls.items()))
        if settings.workers > 1:
            run_workers(settings, sockets[0], t0)
            return 0
        from gateway.app import Gateway

        gw = Gateway(settings, engine=engine)  # builds the adapters from the (now complete) environment
        # the loop uvicorn picks with loop="auto" (uvloop when installed), as `--workers N` gets
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            runner.run(run_servers(gw, sockets, t0))
        return 0
    except GatewayError as e:
        print(f"error [{e.code}]: {e.message}", file=sys.stderr, flush=True)
        return 2
    finally:
        for sock in sockets:
            sock.close()
        if services is not None:
            services.stop()


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; uvicorn serves on it later (clients wait in the backlog meanwhile)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as e:
        raise ConfigError(f"cannot listen on {host}:{port}: {e.strerror}", host=host, port=port) from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart need not wait out TIME_WAIT
        no_delay(sock)  # accepted sockets inherit it, in every worker (gateway/wire.py)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise PortInUseError(f"cannot listen on {host}:{port}: the port is in use (another gateway? "
                                 f"choose another with --port or GATEWAY_PORT)", host=host, port=port) from None
        raise ConfigError(f"cannot listen on {host}:{port}: {e.strerror}", host=host, port=port) from None
    sock.set_inheritable(True)  # for the worker processes of --workers N
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def validate(settings: Settings, demo: bool) -> Any:
    """Every spec and policy file, before anything starts; returns the policy engine."""
    from adapters.registry import load_specs
    from policies.engine import PolicyEngine
    from schema.build import core
    from schema.model import model_of

    env = dict(os.environ)
    if demo:
        from demo.launch import ENV_VARS, demo_environment

        env.update(demo_environment(settings.demo_dir, dict.fromkeys(ENV_VARS, PLACEHOLDER_URL)))
    return PolicyEngine(settings.policy_dir, model_of(load_specs(settings.adapters_dir, core(), env)).meta)


def uvicorn_config(app: Any, **kw: Any) -> uvicorn.Config:
    # log_config=None: the records go to the handler logs.setup installed; no `server` header
    # http: uvicorn's h11 protocol, head and body of a response in one send (gateway/wire.py)
    return uvicorn.Config(app, log_config=None, server_header=False, date_header=True,
                          http=CoalescingH11Protocol, **kw)


class Server(uvicorn.Server):
    """A uvicorn server that says when it accepts requests and leaves signals to `run_servers`."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self.on_started = on_started

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.on_started()


async def run_servers(gw: Any, sockets: list[socket.socket], t0: float) -> None:
    """The main server and, with an admin port, the admin server; a signal or a failure stops both."""
    from gateway.app import create_admin_app, create_app

    main_url = url_of(sockets[0])
    servers = [(Server(uvicorn_config(create_app(gateway=gw), lifespan="on"), lambda: log.info(
        "gateway ready at %s (%d adapters, %.1f s)", main_url, len(gw.registry), time.perf_counter() - t0,
        extra={"url": main_url})), sockets[0])]
    if len(sockets) > 1:
        admin_url = url_of(sockets[1])
        servers.append((Server(uvicorn_config(create_admin_app(gw), lifespan="off"), lambda: log.info(
            "admin endpoints /readyz and /metrics at %s", admin_url, extra={"url": admin_url})), sockets[1]))

    def stop() -> None:
        for server, _ in servers:
            server.force_exit = server.should_exit  # a second Ctrl-C does not wait for open requests
            server.should_exit = True

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    try:
        tasks = [asyncio.create_task(server.serve(sockets=[sock])) for server, sock in servers]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        stop()
        await asyncio.gather(*tasks)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def run_workers(settings: Settings, sock: socket.socket, t0: float) -> None:
    os.environ["GATEWAY_DEV_MODE"] = "1" if settings.dev_mode else "0"
    os.environ["GATEWAY_LOG_FORMAT"] = settings.log_format
    config = uvicorn_config("gateway.serve:worker_app", factory=True, workers=settings.workers)
    log.info("gateway ready at %s (%d workers starting, %.1f s)", url_of(sock), settings.workers,
             time.perf_counter() - t0, extra={"url": url_of(sock)})
    Multiprocess(config, sockets=[sock]).run()


def worker_app():  # type: ignore[no-untyped-def]
    from gateway.app import create_app
    from gateway.settings import load_settings

    settings = load_settings()
    check_production(settings)
    logs.setup(settings.log_format)
    return create_app(settings)
