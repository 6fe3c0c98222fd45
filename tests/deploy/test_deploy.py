"""Deployment as operators run it: the compose file against the Compose specification's schema, and the
shipped nginx configuration tested (`nginx -t`) and run in front of three gateway replicas that share
the machine's Redis and keep one audit chain in its PostgreSQL, over loopback."""
from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import orjson
import pytest
import websockets
import yaml

from gateway.settings import ENV_KEYS
from tests.gateway.audit_support import audit_settings, cli, cli_env, pg_database
from tests.gateway.test_replicas import replicas
from tests.helpers import ROOT, codes

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SHIPPED = ROOT / "deploy" / "nginx"
# the Compose specification's JSON schema, as docker-compose 1.29.2 ships it (compose/config/compose_spec.json)
COMPOSE_SCHEMA = Path(__file__).with_name("compose_spec.json")


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_the_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    errors = [e.message for e in jsonschema_rs.validator_for(schema).iter_errors(_compose())]
    assert errors == []


def test_the_compose_topology() -> None:
    c = _compose()
    s = c["services"]
    assert {"nginx", "redis", "postgres", "mosquitto", "gateway", "alerts"} <= set(s)
    gw = s["gateway"]
    assert gw["deploy"]["replicas"] >= 3
    assert "/readyz" in " ".join(gw["healthcheck"]["test"])
    env = gw["environment"]
    known = set(ENV_KEYS) | {f"{k}_FILE" for k in ENV_KEYS}
    assert {k for k in env if k.startswith("GATEWAY_")} <= known  # every setting named exists
    for key in ("JWT_SECRET", "ID_SECRET", "STATS_SECRET", "AUDIT_KEY"):  # secrets from files, never inline
        assert f"GATEWAY_{key}" not in env and env[f"GATEWAY_{key}_FILE"].startswith("/run/secrets/")
    assert set(gw["secrets"]) <= set(c["secrets"]) and all("file" in v for v in c["secrets"].values())
    assert env["GATEWAY_REDIS_URL"].startswith("redis://redis") and env["GATEWAY_AUDIT_URL"].startswith("postgresql")
    assert "gateway" in s["nginx"]["depends_on"]
    assert "server gateway:8000" in (SHIPPED / "upstream.conf").read_text(encoding="utf-8")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def nginx_before(ports: list[int], tmp: Path) -> Iterator[str]:
    """The shipped nginx.conf, unchanged but for its listening port, with an upstream.conf of loopback ports."""
    conf = tmp / "nginx"
    conf.mkdir()
    port = _free_port()
    text = (SHIPPED / "nginx.conf").read_text(encoding="utf-8")
    assert "listen 8080;" in text
    (conf / "nginx.conf").write_text(text.replace("listen 8080;", f"listen 127.0.0.1:{port};")
                                     .replace("pid /tmp/nginx-civic.pid;", f"pid {tmp}/nginx.pid;"))
    (conf / "upstream.conf").write_text("".join(f"server 127.0.0.1:{p};\n" for p in ports))
    test = subprocess.run([NGINX, "-t", "-p", str(conf), "-c", str(conf / "nginx.conf")], capture_output=True,
                          text=True, timeout=30, check=False)
    assert test.returncode == 0, test.stderr
    proc = subprocess.Popen([NGINX, "-p", str(conf), "-c", str(conf / "nginx.conf"), "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_nginx_accepts_the_shipped_configuration(tmp_path: Path) -> None:
    with nginx_before([_free_port()], tmp_path):
        pass  # `nginx -t` passed and it started


def test_nginx_and_three_replicas_behave_as_one(demo_env: dict[str, str], tmp_path: Path) -> None:
    with pg_database("civic_topology") as audit_url:
        audit = audit_settings(tmp_path, audit_url)
        with replicas(demo_env, tmp_path, rate_limits="developer=8/60,*=1000/60", **audit) as apis, \
                nginx_before([int(a.base.rsplit(":", 1)[1]) for a in apis], tmp_path) as front:
            dev = apis[0].token("developer", user=f"dev-{uuid.uuid4().hex[:6]}")
            h = {"Authorization": f"Bearer {dev}", "Content-Type": "application/json"}
            with httpx.Client(base_url=front, timeout=30) as client:
                statuses = [client.post("/graphql", content=orjson.dumps({"query": "{ __typename }"}), headers=h)
                            for _ in range(10)]
                assert [r.status_code for r in statuses] == [200] * 8 + [429] * 2  # one limit, whichever replica
                assert codes(statuses[-1].json()) == ["RATE_LIMITED"] and statuses[-1].headers["Retry-After"]
                assert client.get("/readyz").status_code == 404  # the admin endpoints stay off the public entry
                assert client.get("/healthz").status_code == 200
            worker = apis[0].token("committee_secretary", "310107005001")

            async def subscribe() -> list[str]:  # a subscription's WebSocket through nginx
                async with websockets.connect(front.replace("http", "ws") + "/graphql",
                                              subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
                    await ws.send(orjson.dumps({"type": "connection_init",
                                                "payload": {"Authorization": f"Bearer {worker}"}}).decode())
                    await ws.send('{"type": "ping"}')
                    return [orjson.loads(await ws.recv())["type"] for _ in range(2)]

            assert asyncio.run(subscribe()) == ["connection_ack", "pong"]
        # the replicas have stopped (their buffers drained): one audit chain, intact, holds every request
        ok = cli("audit", "verify", "--json", env=cli_env(audit))
        assert ok.returncode == 0, ok.stderr
        assert json.loads(ok.stdout)["records"] == 10  # every POST, the two refused ones too


@pytest.mark.parametrize("name", ["nginx.conf", "upstream.conf"])
def test_the_shipped_nginx_files_exist(name: str) -> None:
    assert (SHIPPED / name).is_file()
