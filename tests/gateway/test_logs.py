"""Log lines (text and JSON) and the request id middleware, in-process."""
from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway import logs, request_id
from gateway.request_id import RequestIdMiddleware

HEX32 = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture()
def stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    buf = io.StringIO()
    yield buf
    root.handlers[:], root.level = saved


def lines(buf: io.StringIO) -> list[str]:
    return [ln for ln in buf.getvalue().splitlines() if ln.strip()]


def test_json_lines_carry_the_standard_keys_and_extras(stream: io.StringIO) -> None:
    logs.setup("json", stream=stream)
    logging.getLogger("gateway.test").info("slow %s", "housing", extra={"department": "housing", "ms": 812})
    (line,) = lines(stream)
    rec = json.loads(line)
    assert rec["level"] == "INFO" and rec["logger"] == "gateway.test"
    assert rec["message"] == "slow housing"
    assert rec["request_id"] is None  # outside a request
    assert rec["department"] == "housing" and rec["ms"] == 812
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$", rec["time"])


def test_json_exception_stays_on_one_line(stream: io.StringIO) -> None:
    logs.setup("json", stream=stream)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("gateway.test").exception("failed")
    (line,) = lines(stream)
    rec = json.loads(line)
    assert rec["level"] == "ERROR" and "ValueError" in rec["exc_info"]


def test_text_lines_show_the_request_id_and_extras(stream: io.StringIO) -> None:
    logs.setup("text", stream=stream)
    token = request_id._current.set("abc")
    try:
        logging.getLogger("gateway.test").warning("hello", extra={"code": "X"})
    finally:
        request_id._current.reset(token)
    logging.getLogger("gateway.test").warning("outside")
    first, second = lines(stream)
    assert " WARNING gateway.test [abc]: hello code=X" in first
    assert " WARNING gateway.test: outside" in second


def test_setup_twice_keeps_one_handler(stream: io.StringIO) -> None:
    logs.setup("text", stream=stream)
    logs.setup("json", stream=stream)
    logging.getLogger("gateway.test").info("once")
    assert len(lines(stream)) == 1
    json.loads(lines(stream)[0])


# --- the middleware -----------------------------------------------------------------
async def echo(request: Request) -> Response:
    logging.getLogger("gateway.test").info("handled")
    return JSONResponse({"seen": request_id.current()}, headers={"X-Request-Id": "set-by-the-app"})


APP = Starlette(routes=[Route("/", echo)], middleware=[Middleware(RequestIdMiddleware)])


async def get(headers: list[tuple[str, str | bytes]] | None = None) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=APP), base_url="http://t") as client:
        return await client.get("/", headers=headers)


async def test_a_good_caller_id_is_kept_echoed_and_logged(stream: io.StringIO) -> None:
    logs.setup("json", stream=stream)
    r = await get([("X-Request-Id", "abc")])
    assert r.headers.get_list("x-request-id") == ["abc"]  # the middleware's, once
    assert r.json() == {"seen": "abc"}
    handled = [json.loads(ln) for ln in lines(stream) if json.loads(ln)["message"] == "handled"]
    assert [h["request_id"] for h in handled] == ["abc"]
    assert request_id.current() is None  # reset after the request


@pytest.mark.parametrize("bad", ["a" * 129, "a b", "", "ü".encode(), 'x"y', "a,b", "a;b", "a\tb"],
                         ids=["too-long", "space", "empty", "non-ascii", "quote", "comma", "semicolon", "tab"])
async def test_a_bad_caller_id_is_replaced(bad: str | bytes) -> None:
    r = await get([("X-Request-Id", bad)])
    rid = r.headers["x-request-id"]
    assert HEX32.match(rid), rid
    assert r.json() == {"seen": rid}


async def test_ids_are_made_when_missing_and_differ() -> None:
    a, b = (await get()).headers["x-request-id"], (await get()).headers["x-request-id"]
    assert HEX32.match(a) and HEX32.match(b) and a != b


async def test_several_caller_ids_are_all_ignored() -> None:
    r = await get([("X-Request-Id", "one"), ("X-Request-Id", "two")])
    assert HEX32.match(r.headers["x-request-id"])


async def test_longest_accepted_id() -> None:
    rid = "A-z0.9_~!#$%&'*+^`|" + "a" * 109
    assert len(rid) == 128
    assert (await get([("X-Request-Id", rid)])).headers["x-request-id"] == rid
