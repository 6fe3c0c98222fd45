"""A gateway on a free loopback port in a background thread (benchmarks, tests, tooling)."""
from __future__ import annotations

import socket
import threading
import time

import uvicorn

from gateway.app import Gateway, create_app
from gateway.wire import CoalescingH11Protocol


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddedServer:
    def __init__(self, gw: Gateway, start_timeout_s: float = 30.0) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(create_app(gateway=gw), host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="on",
                                                    http=CoalescingH11Protocol))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + start_timeout_s
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("embedded gateway did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
