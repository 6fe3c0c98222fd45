"""`gateway serve [--demo]`: validate everything, start the demo departments, run uvicorn.

With --demo the HTTP department services run as child processes on free loopback ports;
they are stopped on exit (Ctrl-C or SIGTERM) and die with the parent if it is killed.
"""
from __future__ import annotations

import logging
import os
import sys
import time

import uvicorn

from common.errors import GatewayError
from gateway.settings import Settings

log = logging.getLogger("gateway")


def serve(settings: Settings, demo: bool = False) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per department request
    t0 = time.perf_counter()
    services = None
    try:
        if demo:
            from demo.generate import ensure_demo_data
            from demo.launch import DemoServices, demo_environment

            ensure_demo_data(settings.demo_dir, persons=settings.demo_persons, seed=settings.demo_seed)
            log.info("demo data ready in %s (%.1f s)", settings.demo_dir, time.perf_counter() - t0)
            services = DemoServices(settings.demo_dir)
            urls = services.start()
            os.environ.update(demo_environment(settings.demo_dir, urls))
            log.info("demo department services up: %s", ", ".join(f"{k}={v}" for k, v in urls.items()))
        from gateway.app import Gateway, create_app

        gw = Gateway(settings)  # validates every spec and policy file: a bad one stops the start here
        log.info("gateway ready to serve %d adapters in %.1f s", len(gw.registry), time.perf_counter() - t0)
        if settings.workers > 1:
            os.environ["GATEWAY_DEV_MODE"] = "1" if settings.dev_mode else "0"
            uvicorn.run("gateway.serve:worker_app", factory=True, host=settings.host, port=settings.port,
                        workers=settings.workers, log_level="warning")
        else:
            uvicorn.run(create_app(gateway=gw), host=settings.host, port=settings.port, log_level="warning")
        return 0
    except GatewayError as e:
        print(f"error [{e.code}]: {e.message}", file=sys.stderr)
        return 2
    finally:
        if services is not None:
            services.stop()


def worker_app():  # type: ignore[no-untyped-def]
    from gateway.app import create_app

    return create_app()
