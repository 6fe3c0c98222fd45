"""`gateway serve` as a subprocess: start order, readiness, ports, log lines, headers, shutdown.

Without --demo the department systems are unreachable; the gateway still starts (they are
separate failure domains), which is all these tests need.
"""
from __future__ import annotations

import json
import os
import queue
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = str(Path(sys.executable).parent / "gateway")


def _audit_signing_key() -> str:
    """A PEM file of a new Ed25519 key: production signs audit checkpoints with a key it is given."""
    from cryptography.hazmat.primitives import serialization as ser
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = AUDIT_DIR / "audit_signing.pem"
    path.write_bytes(Ed25519PrivateKey.generate().private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8,
                                                                ser.NoEncryption()))
    return str(path)


# a production start (no --demo) needs real secrets: these are random per test run, and its audit store
# is a file of its own (never the developer's var/audit.db, whose chain is signed with another key)
AUDIT_DIR = Path(tempfile.mkdtemp(prefix="serve-audit-"))
CLEAN_ENV = {**{k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")},
             **{f"GATEWAY_{k}": secrets.token_hex(32) for k in ("JWT_SECRET", "ID_SECRET", "STATS_SECRET",
                                                                "AUDIT_KEY")},
             "GATEWAY_AUDIT_SIGNING_KEY": _audit_signing_key(),
             "GATEWAY_AUDIT_URL": f"sqlite+aiosqlite:///{AUDIT_DIR / 'audit.db'}"}


class Served:
    """A running `gateway serve`, its stderr lines collected as they come."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen([GATEWAY, "serve", *args], cwd=ROOT, env={**CLEAN_ENV, **(env or {})},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, text: str, timeout: float = 120) -> dict[str, object]:
        """The first JSON log line whose message starts with ``text`` (logged so far or to come)."""
        for line in self.lines:
            if str(json.loads(line)["message"]).startswith(text):
                return json.loads(line)  # type: ignore[no-any-return]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is None:
                pytest.fail(f"serve exited {self.proc.wait()} before {text!r}: {self.lines[-20:]}")
            self.lines.append(line)
            rec = json.loads(line)  # every line is one JSON object
            if str(rec["message"]).startswith(text):
                return rec  # type: ignore[no-any-return]
        pytest.fail(f"no {text!r} in {timeout} s: {self.lines[-20:]}")

    def drain(self) -> list[str]:
        """Lines logged so far (after a short pause for in-flight ones)."""
        time.sleep(0.3)
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                return self.lines
            if line is not None:
                self.lines.append(line)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        return self.proc.wait()


def children(pid: int) -> set[int]:
    """Processes whose parent is pid, from /proc."""
    found = set()
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(d.name))
    return found


def demo_services_of(data_dir: Path) -> list[int]:
    """Running demo department services serving ``data_dir`` (whoever their parent is now)."""
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"demo.services" in cmd and str(data_dir).encode() in cmd:
                pids.append(int(d.name))
    return pids


@pytest.fixture()
def taken_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


# --- a failed start leaves nothing behind -----------------------------------------------
def run_and_watch(args: list[str], env: dict[str, str], timeout: float = 120) -> tuple[int, str, set[int]]:
    """Run serve to its end; returns (exit code, stderr, every child pid seen while it ran)."""
    p = subprocess.Popen([GATEWAY, "serve", *args], cwd=ROOT, env={**CLEAN_ENV, **env}, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    seen: set[int] = set()
    deadline = time.monotonic() + timeout
    while p.poll() is None and time.monotonic() < deadline:
        seen |= children(p.pid)
        time.sleep(0.05)
    if p.poll() is None:
        p.kill()
    _, err = p.communicate()
    return p.returncode, err, seen


def test_a_taken_port_is_a_clear_error_before_anything_starts(taken_port: int, tmp_path: Path) -> None:
    demo_dir = tmp_path / "demo"
    rc, err, seen = run_and_watch(["--demo", "--port", str(taken_port)],
                                  {"GATEWAY_DEMO_DIR": str(demo_dir), "GATEWAY_DEMO_PERSONS": "300"})
    assert rc == 2, err
    assert "PORT_IN_USE" in err and str(taken_port) in err
    assert "Traceback" not in err
    assert seen == set()  # no department service was ever started
    assert not demo_dir.exists()  # nor any demo data generated
    assert demo_services_of(demo_dir) == []


def test_a_taken_admin_port_is_the_same_error(taken_port: int) -> None:
    rc, err, seen = run_and_watch(["--port", "0"], {"GATEWAY_ADMIN_PORT": str(taken_port)})
    assert rc == 2 and "PORT_IN_USE" in err and "Traceback" not in err, err
    assert seen == set()


def test_a_bad_spec_stops_the_demo_before_any_service_starts(tmp_path: Path) -> None:
    adapters = tmp_path / "adapters"
    shutil.copytree(ROOT / "adapters", adapters, ignore=shutil.ignore_patterns("__pycache__"))
    spec = adapters / "veterans" / "spec.yaml"
    spec.write_text(spec.read_text(encoding="utf-8").replace("title:", "titel:", 1), encoding="utf-8")
    demo_dir = tmp_path / "demo"
    rc, err, seen = run_and_watch(["--demo", "--port", "0"], {
        "GATEWAY_ADAPTERS_DIR": str(adapters), "GATEWAY_DEMO_DIR": str(demo_dir), "GATEWAY_DEMO_PERSONS": "300"})
    assert rc == 2, err
    assert "SPEC_INVALID" in err and "veterans" in err and "Traceback" not in err
    assert seen == set()
    assert not demo_dir.exists()
    assert demo_services_of(demo_dir) == []


def test_admin_port_with_several_workers_is_refused() -> None:
    rc, err, seen = run_and_watch(["--port", "0", "--workers", "2"], {"GATEWAY_ADMIN_PORT": "0"})
    assert rc == 2 and "SETTINGS_INVALID" in err and "admin_port" in err, err
    assert seen == set()


# --- one gateway on one port ---------------------------------------------------------------
@pytest.fixture(scope="module")
def one_port() -> Iterator[tuple[Served, str]]:
    served = Served("--port", "0", env={"GATEWAY_LOG_FORMAT": "json"})
    try:
        ready = served.wait_for("gateway ready at ")
        yield served, str(ready["url"])
    finally:
        served.stop()


def test_ready_is_logged_once_the_port_accepts(one_port: tuple[Served, str]) -> None:
    served, url = one_port
    assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")  # the port actually bound
    r = httpx.get(url + "/healthz", timeout=5)  # straight after the line: no retry
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    messages = [json.loads(ln)["message"] for ln in served.lines]
    assert sum(m.startswith("gateway ready") for m in messages) == 1


def test_no_server_header_and_a_request_id_on_every_answer(one_port: tuple[Served, str]) -> None:
    _, url = one_port
    for path in ("/healthz", "/readyz", "/metrics", "/graphql", "/nope"):
        r = httpx.get(url + path, timeout=30)
        assert "server" not in r.headers, (path, r.headers)
        assert len(r.headers["x-request-id"]) == 32, path
    r = httpx.post(url + "/graphql", json={"query": "{ __typename }"}, timeout=30)
    assert "server" not in r.headers and len(r.headers["x-request-id"]) == 32


def test_the_callers_request_id_is_echoed_and_logged(one_port: tuple[Served, str]) -> None:
    served, url = one_port
    r = httpx.get(url + "/healthz", headers={"X-Request-Id": "abc"}, timeout=5)
    assert r.headers["x-request-id"] == "abc"
    r = httpx.post(url + "/graphql", json={"query": "{ persons(first: 1) { totalCount } }"},
                   headers={"X-Request-Id": "gql-1"}, timeout=30)
    assert r.headers["x-request-id"] == "gql-1"
    records = [json.loads(ln) for ln in served.drain()]
    for rec in records:
        assert {"time", "level", "logger", "message", "request_id"} <= set(rec), rec
    mine = [rec for rec in records if rec["request_id"] == "abc"]
    assert mine and any(rec.get("path") == "/healthz" and rec.get("status") == 200 for rec in mine), mine
    assert any(rec["request_id"] == "gql-1" for rec in records)


def test_metrics_and_readyz_are_on_the_main_port_by_default(one_port: tuple[Served, str]) -> None:
    _, url = one_port
    assert httpx.get(url + "/metrics", timeout=10).status_code == 200
    assert httpx.get(url + "/readyz", timeout=30).status_code in (200, 503)


def test_readyz_reports_the_kinds_adapters_list_does(one_port: tuple[Served, str]) -> None:
    _, url = one_port
    reported = {a["name"]: a["kind"] for a in httpx.get(url + "/readyz", timeout=30).json()["adapters"]}
    listed = subprocess.run([GATEWAY, "adapters", "list", "--json"], cwd=ROOT, env=CLEAN_ENV, check=True,
                            capture_output=True, text=True).stdout
    assert reported == {r["name"]: r["kind"] for r in json.loads(listed)}


def test_sigterm_stops_it_cleanly() -> None:
    served = Served("--port", "0", env={"GATEWAY_LOG_FORMAT": "json"})
    served.wait_for("gateway ready at ")
    assert served.stop() == 0


# --- an admin port ---------------------------------------------------------------------
def test_admin_port_serves_readyz_and_metrics_alone() -> None:
    served = Served("--port", "0", env={"GATEWAY_LOG_FORMAT": "json", "GATEWAY_ADMIN_PORT": "0"})
    try:
        url = str(served.wait_for("gateway ready at ")["url"])
        admin = str(served.wait_for("admin endpoints")["url"])
        assert admin != url
        for path in ("/metrics", "/readyz"):
            assert httpx.get(url + path, timeout=10).status_code == 404, path
        assert httpx.get(url + "/healthz", timeout=10).status_code == 200
        m = httpx.get(admin + "/metrics", timeout=10)
        assert m.status_code == 200 and "gateway_adapter_calls_total" in m.text
        ready = httpx.get(admin + "/readyz", timeout=30)
        assert ready.status_code in (200, 503) and len(ready.json()["adapters"]) == 16
        assert httpx.get(admin + "/healthz", timeout=10).status_code == 200
        assert httpx.post(admin + "/graphql", json={"query": "{ __typename }"}, timeout=10).status_code == 404
        assert "server" not in m.headers and len(m.headers["x-request-id"]) == 32
    finally:
        assert served.stop() == 0
