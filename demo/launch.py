"""Run the seven HTTP department services as child processes (for the demo and tests).

    with DemoServices(data_dir) as svc:
        urls = svc.start()
        env = demo_environment(data_dir, urls)
"""
from __future__ import annotations

import atexit
import ctypes
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from demo.services import SLUGS

HTTP_DEPARTMENTS: tuple[str, ...] = SLUGS
ENV_VARS: dict[str, str] = {slug: f"{slug.upper()}_URL" for slug in HTTP_DEPARTMENTS}
START_TIMEOUT = 30.0


def demo_environment(data_dir: Path, urls: dict[str, str]) -> dict[str, str]:
    """Every environment variable the demo adapter specs read."""
    env = {"GATEWAY_DEMO_DIR": str(Path(data_dir).resolve())}
    for slug, var in ENV_VARS.items():
        env[var] = urls[slug]
    return env


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class DemoServices:
    def __init__(self, data_dir: Path, host: str = "127.0.0.1") -> None:
        self.data_dir = Path(data_dir).resolve()
        self.host = host
        self.urls: dict[str, str] = {}
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        atexit.register(self.stop)

    def start(self) -> dict[str, str]:
        if self._procs:
            return dict(self.urls)
        try:
            for slug in HTTP_DEPARTMENTS:
                port = _free_port(self.host)
                self._procs[slug] = subprocess.Popen(
                    [sys.executable, "-m", "demo.services", slug, "--port", str(port),
                     "--data-dir", str(self.data_dir), "--host", self.host],
                    stdin=subprocess.DEVNULL, start_new_session=False,
                    preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
                )
                self.urls[slug] = f"http://{self.host}:{port}"
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return dict(self.urls)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        pending = set(self._procs)
        with httpx.Client(timeout=1.0) as client:
            while pending:
                for slug in sorted(pending):
                    proc = self._procs[slug]
                    if proc.poll() is not None:
                        raise RuntimeError(f"demo service {slug} exited with code {proc.returncode}")
                    try:
                        if client.get(f"{self.urls[slug]}/health").status_code == 200:
                            pending.discard(slug)
                    except httpx.TransportError:
                        pass
                if pending and time.monotonic() > deadline:
                    raise TimeoutError(f"demo services not ready after {START_TIMEOUT:.0f}s: {sorted(pending)}")
                if pending:
                    time.sleep(0.1)

    def stop(self) -> None:
        procs, self._procs = self._procs, {}
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 5.0
        for proc in procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.urls = {}

    def __enter__(self) -> DemoServices:
        self.start()  # idempotent: a later start() returns the same URLs
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
