"""`gateway serve --workers 2` (a production start) writing to one PostgreSQL store: both processes append
to one chain, and after SIGTERM every request has its record and the chain verifies."""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from gateway.auth import issue
from gateway.settings import load_settings
from tests.gateway.audit_support import (
    GATEWAY,
    ROOT,
    audit_settings,
    check,
    cli_env,
    pg_database,
    signing_key,
)

REQUESTS = 300
PSQL_ON = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_workers_write_one_chain(tmp_path: Path) -> None:
    with pg_database("audit_workers") as url:
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")},
               **{f"GATEWAY_{k}": secrets.token_hex(32) for k in ("JWT_SECRET", "ID_SECRET", "STATS_SECRET")},
               **cli_env(audit_settings(tmp_path, url)), "GATEWAY_DEPARTMENT_TIMEOUT_S": "0.5"}
        settings = load_settings(env=env)
        tok = issue(settings, "w-user", ["developer"], "310107005", None)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen([GATEWAY, "serve", "--port", str(port), "--workers", "2"], env=env, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline and proc.poll() is None, "serve did not start"
                time.sleep(0.2)
            queries = [("{ persons(first: 1) { totalCount } }", None), ("{ persons(first: 1) { totalCount ", tok),
                       ("{ houses(first: 2) { totalCount } }", tok)]

            def one(i: int) -> int:
                q, t = queries[i % len(queries)]
                h = {"Authorization": f"Bearer {t}"} if t else {}
                with httpx.Client(timeout=30) as c:  # a new connection each: spread over both workers
                    return c.post(base + "/graphql", json={"query": q}, headers=h).status_code

            with ThreadPoolExecutor(10) as ex:
                statuses = list(ex.map(one, range(REQUESTS)))
            assert set(statuses) <= {200, 400, 401}
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                raise
        report = check(url, signing_key(tmp_path))
        assert report.ok, report.as_dict()
        assert report.records == REQUESTS == report.sealed
        pids = subprocess.run([*PSQL_ON, url.rsplit("/", 1)[1], "-tAc",
                               "SELECT count(DISTINCT body::json->>'pid') FROM audit_records"],
                              capture_output=True, text=True, check=True).stdout.strip()
        assert int(pids) == 2  # both workers appended to the one chain
