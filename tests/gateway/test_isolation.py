"""One caller's bad input cannot hurt another: it is refused at the edge, and a department
refusing a request the gateway built is the gateway's fault, never the department's breaker.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.helpers import Api, adapter_calls, codes

EVENTS = "query($c: String!) { events(first: 1, filter: {category: $c}) { totalCount } }"
BAD_VALUES = ["", " ", "\n", "\u2028"] * 13  # 52


@pytest.fixture(scope="module")
def refusing() -> Iterator[str]:
    """A culture stand-in on loopback: /health is up, every other request is refused with HTTP 400."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            ok = self.path == "/health"
            body = b'{"status": "UP"}' if ok else b'{"error": "parameter category is empty"}'
            self.send_response(200 if ok else 400)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def settled_calls(api: Api) -> Counter[str]:
    """Department calls once the start-up work (fan-out measuring, ledger loading) has finished."""
    last = adapter_calls(api)
    while True:
        time.sleep(0.3)
        now = adapter_calls(api)
        if now == last:
            return now
        last = now


def test_bad_filter_values_are_refused_at_the_edge(api: Api) -> None:
    bad = api.token("committee_worker")
    before = settled_calls(api)["culture"]
    for v in BAD_VALUES:
        r = api.post(EVENTS, bad, {"c": v})
        assert r.status_code == 200, r.text
        body = r.json()
        assert codes(body) == ["BAD_USER_INPUT"], body
        assert body["errors"][0]["extensions"]["argument"] == "category"
        assert body["data"] == {"events": None}
    assert adapter_calls(api)["culture"] == before  # no department was asked
    staff = api.gql("{ events(first: 1) { totalCount edges { node { eventId } } } }", api.token("culture_staff"))
    assert codes(staff) == [], staff
    assert staff["data"]["events"]["totalCount"] > 0
    culture = next(a for a in api.gateway.registry if a.name == "culture")
    assert culture.breaker.state == "closed"


@pytest.mark.parametrize("value,reason", [
    ("x" * 65, "too_long"), ("\u3000\u3000", "blank"), ("a\x00b", "control_character"),
    ("talk\u200b", "control_character"), ("talk\u2029", "control_character"), ("\x1b[31mred", "control_character"),
])
def test_each_kind_of_bad_value_names_the_filter(api: Api, value: str, reason: str) -> None:
    before = adapter_calls(api)["culture"]
    r = api.post(EVENTS, api.token("culture_staff"), {"c": value})
    body = r.json()
    assert codes(body) == ["BAD_USER_INPUT"], body
    ext = body["errors"][0]["extensions"]
    assert (ext["argument"], ext["reason"]) == ("category", reason)
    assert adapter_calls(api)["culture"] == before


def test_refusal_never_echoes_long_input(api: Api) -> None:
    value = "SECRET" * 200
    r = api.post(EVENTS, api.token("culture_staff"), {"c": value})
    assert codes(r.json()) == ["BAD_USER_INPUT"]
    assert "SECRET" * 11 not in r.text  # 66 characters of the input


def test_good_filter_value_still_reaches_the_department(api: Api) -> None:
    staff = api.token("culture_staff")
    one = api.gql("{ events(first: 1) { edges { node { category } } } }", staff)
    category = one["data"]["events"]["edges"][0]["node"]["category"]
    body = api.gql(EVENTS, staff, {"c": category})
    assert codes(body) == [], body
    assert body["data"]["events"]["totalCount"] > 0


def test_malformed_place_code_never_reaches_a_department(api: Api) -> None:
    before = settled_calls(api)
    r = api.post("query($c: String!) { events(first: 1, filter: {committee: $c}) { totalCount } }",
                 api.token("committee_worker"), {"c": "\u2028"})
    assert codes(r.json()) == ["INVALID_JURISDICTION"]
    assert adapter_calls(api) == before


def test_department_refusing_a_gateway_request_is_rejected_not_an_outage(
        make_api: Callable[..., Api], refusing: str, caplog: pytest.LogCaptureFixture) -> None:
    api = make_api(env={"CULTURE_URL": refusing})
    staff = api.token("culture_staff")
    culture = next(a for a in api.gateway.registry if a.name == "culture")
    with caplog.at_level(logging.ERROR, logger="adapters.http"):
        for _ in range(20):
            r = api.post("{ events(first: 1) { totalCount } } ", staff)
            assert r.status_code == 200, r.text
            body = r.json()
            assert codes(body) == ["DEPARTMENT_REJECTED"], body
            assert body["errors"][0]["extensions"]["department"] == "culture"
            assert body["data"] == {"events": None}
    assert culture.breaker.state == "closed"
    assert culture.breaker.failures == 0
    rejected = [r for r in caplog.records if getattr(r, "department", None) == "culture"
                and getattr(r, "path", "").startswith("/culture/events")]  # not the default gateway's
    assert len(rejected) >= 20
    assert all(r.levelno == logging.ERROR and getattr(r, "status", None) == 400 for r in rejected)
    paths = {getattr(r, "path", "") for r in rejected}
    assert "/culture/events?area=&rows=&start=" in paths, paths
    assert all(v == "" for p in paths for kv in p.partition("?")[2].split("&") if kv
               for v in [kv.partition("=")[2]]), paths  # parameter names only, never values
    persons = api.gql("{ persons(first: 3) { edges { node { gender } } } }", api.token("developer"))
    assert codes(persons) == []
