"""Hostile input over real HTTP: raw sockets against a real gateway on loopback.

Bytes no well-behaved client would send: wrong content types, bodies that are not UTF-8, JSON
nested 100,000 deep, numbers too big for any type, null bytes, a megabyte of whitespace,
duplicate keys, odd `variables`, unicode escapes, oversized headers and tokens, idle and
slowloris connections, HTTP/1.0, pipelining, bad chunked framing.

Where the gateway answers, the answer is a 4xx with a stable ``extensions.code``; where uvicorn
answers (malformed HTTP) it is a 4xx or a closed connection. Never a 5xx, never a hang (every
socket read is bounded), never internals in the body; and the gateway serves a normal query after
each case. tests/gateway/test_bad_input.py covers the JSON shapes and GraphQL limits over httpx;
this file is about what only raw bytes can say.
"""
from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from tests.helpers import CLIENT, Api, codes

PERSONS = "{ persons(first: 1) { totalCount } }"
BODY = orjson.dumps({"query": PERSONS})
LEAKS = ("Traceback", "File \"", "sqlalchemy", "sqlite", "/work/", "site-packages", ".py\"", "graphql_view")
READ_TIMEOUT_S = 10.0  # longer than any answer takes: running into it means the connection hung
CLIENT_CODES = {"BAD_USER_INPUT", "GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED", "QUERY_TOO_COMPLEX"}


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)

    def codes(self) -> list[str]:
        return codes(self.json())


@dataclass
class Exchange:
    replies: list[Reply]
    closed: bool  # the server closed the connection (FIN or reset)
    seconds: float
    raw: bytes = field(repr=False)

    @property
    def reply(self) -> Reply:
        assert len(self.replies) == 1, self.raw[:2000]
        return self.replies[0]


def address(api: Api) -> tuple[str, int]:
    host, port = api.base.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def parse_replies(data: bytes) -> list[Reply]:
    """HTTP/1.1 responses one after another (pipelining), framed by Content-Length or chunked."""
    out: list[Reply] = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        if "content-length" in headers:
            n = int(headers["content-length"])
            body, data = rest[:n], rest[n:]
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size, _, rest = rest.partition(b"\r\n")
                n = int(size.split(b";")[0], 16)
                if n == 0:
                    data = rest.partition(b"\r\n")[2]
                    break
                body, rest = body + rest[:n], rest[n + 2:]
        else:
            body, data = rest, b""
        out.append(Reply(status, headers, body))
    return out


def connect(api: Api, timeout: float = READ_TIMEOUT_S) -> socket.socket:
    return socket.create_connection(address(api), timeout=timeout)


def read_all(sock: socket.socket) -> tuple[bytes, bool]:
    """Everything until the server closes; a read timeout is a hang and fails the test."""
    out = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return out, True
            out += chunk
    except (ConnectionResetError, BrokenPipeError):
        return out, True
    except TimeoutError:
        pytest.fail(f"the server neither answered nor closed within {READ_TIMEOUT_S} s; got {out[:300]!r}")


def exchange(api: Api, data: bytes, then: bytes = b"") -> Exchange:
    """Send ``data`` (then ``then``, if the server still reads), read until the server closes."""
    t0 = time.monotonic()
    with connect(api) as sock:
        try:
            sock.sendall(data)
            if then:
                sock.sendall(then)
        except (ConnectionResetError, BrokenPipeError):
            pass  # the server answered and closed before taking everything: read what it said
        raw, closed = read_all(sock)
    return Exchange(parse_replies(raw), closed, time.monotonic() - t0, raw)


def request(body: bytes = BODY, token: str | None = None, headers: dict[str, str | None] | None = None,
            line: str = "POST /graphql HTTP/1.1", close: bool = True) -> bytes:
    h: dict[str, str | None] = {"Host": "gateway", "Content-Type": "application/json",
                                "Content-Length": str(len(body))}
    if token:
        h["Authorization"] = f"Bearer {token}"
    if close:
        h["Connection"] = "close"
    h.update(headers or {})
    head = line + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items() if v is not None) + "\r\n"
    return head.encode("latin-1") + body


def assert_clean(reply: Reply) -> None:
    assert reply.status < 500, (reply.status, reply.body[:2000])
    text = reply.body.decode("utf-8", "replace")
    for bad in LEAKS:
        assert bad not in text, (bad, text[:2000])


def assert_refused(ex: Exchange, status: int, allowed: set[str]) -> None:
    """The gateway's own refusal: that status, exactly one error, its code among ``allowed``."""
    reply = ex.reply
    assert_clean(reply)
    assert reply.status == status, (reply.status, reply.body[:2000])
    assert reply.headers.get("content-type", "").startswith("application/json")
    body = reply.json()
    assert body.get("data") is None, body
    assert len(codes(body)) == 1 and codes(body)[0] in allowed, body


def assert_http_refused(ex: Exchange) -> None:
    """Malformed HTTP: uvicorn's 4xx or a closed connection, never a 5xx, never a hang."""
    assert ex.closed, ex.raw[:500]
    for reply in ex.replies:
        assert 400 <= reply.status < 500, ex.raw[:500]
        assert_clean(reply)


def still_serving(api: Api, token: str, max_s: float = 5.0) -> None:
    t0 = time.monotonic()
    r = api.post(PERSONS, token)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["persons"]["totalCount"] > 0
    assert time.monotonic() - t0 < max_s


@pytest.fixture(scope="module")
def dev(api: Api) -> str:
    return api.token("developer")


@pytest.fixture
def serving(api: Api, dev: str) -> Iterator[None]:
    """Every case ends with a normal query answered."""
    yield
    still_serving(api, dev)


def graphql(query: str, variables: Any = None) -> bytes:
    return orjson.dumps({"query": query} if variables is None else {"query": query, "variables": variables})


# --- content types ------------------------------------------------------------------------
@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                   "application/graphql", "application/json; charset=latin-1", None],
                         ids=["text", "form", "multipart", "graphql", "latin1-charset", "none"])
def test_content_type_does_not_change_how_the_body_is_read(api: Api, dev: str, serving: None,
                                                           ctype: str | None) -> None:
    """The body is JSON whatever the label says (bearer tokens only, so no cross-site form can use this)."""
    ex = exchange(api, request(BODY, dev, {"Content-Type": ctype}))
    assert ex.reply.status == 200, ex.raw[:1000]
    assert ex.reply.json()["data"]["persons"]["totalCount"] > 0


@pytest.mark.parametrize(("ctype", "body"), [
    ("application/x-www-form-urlencoded", b"query=%7B+persons%28first%3A+1%29+%7B+totalCount+%7D+%7D"),
    ("application/graphql", PERSONS.encode()),
    ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data; name=\"query\"\r\n\r\n"
                                        + PERSONS.encode() + b"\r\n--x--\r\n"),
    ("application/xml", b"<query>{ persons { totalCount } }</query>"),
], ids=["form", "graphql", "multipart", "xml"])
def test_a_body_in_another_format_is_bad_user_input(api: Api, dev: str, serving: None, ctype: str,
                                                    body: bytes) -> None:
    assert_refused(exchange(api, request(body, dev, {"Content-Type": ctype})), 400, {"BAD_USER_INPUT"})


# --- bytes that are not UTF-8 JSON ------------------------------------------------------------
@pytest.mark.parametrize("body", [
    b'{"query": "{ persons(first: 1) { totalCount } } # caf\xe9"}',
    BODY.decode().encode("utf-16"),
    BODY.decode().encode("utf-32-le"),
    b"\xef\xbb\xbf" + BODY,
    b'{"query": "{ persons(first: 1) { totalCount } } # \xc0\xaf"}',
    b'{"query": "{ persons(first: 1) { totalCount } } # \xed\xa0\x80"}',
    b'{"query": "{ persons(first: 1) { totalCount } } # \\ud800"}',
    b'{"query": "{ persons(first: 1) { totalCount } } # \\udc00\\ud800"}',
], ids=["latin1", "utf16", "utf32", "bom", "overlong", "utf8-surrogate", "lone-surrogate-escape",
        "reversed-pair-escape"])
def test_a_body_that_is_not_utf8_is_bad_user_input(api: Api, dev: str, serving: None, body: bytes) -> None:
    assert_refused(exchange(api, request(body, dev)), 400, {"BAD_USER_INPUT"})


# --- nesting --------------------------------------------------------------------------------
DEEP = 100_000


@pytest.mark.parametrize("body", [
    b"[" * DEEP + b"]" * DEEP,
    b'{"query": "' + PERSONS.encode() + b'", "variables": {"a": ' + b"[" * DEEP + b"]" * DEEP + b"}}",
    b'{"a":' * 40_000 + b"1" + b"}" * 40_000,
    b"[" * DEEP,
], ids=["array", "in-variables", "objects", "unclosed"])
def test_json_nested_100k_deep_is_bad_user_input(api: Api, dev: str, serving: None, body: bytes) -> None:
    ex = exchange(api, request(body, dev))
    assert_refused(ex, 400, {"BAD_USER_INPUT"})
    assert ex.seconds < 5


@pytest.mark.parametrize("query", [
    "{ persons(first: " + "[" * 3000 + "1" + "]" * 3000 + ") { totalCount } }",
    "{ persons(first: 1, filter: " + "{committee: " * 1500 + "\"x\"" + "}" * 1500 + ") { totalCount } }",
    "query($v: Int = " + "[" * 1000 + "]" * 1000 + ") { persons(first: 1) { totalCount } }",
    "{ persons(first: " + "[" * DEEP + ") { totalCount } }",
], ids=["list-literal", "object-literal", "default-value", "list-literal-100k"])
def test_graphql_literals_nested_deep_are_refused(api: Api, dev: str, serving: None, query: str) -> None:
    """The parser recurses per level: deep literals must be a client error, not a RecursionError."""
    ex = exchange(api, request(graphql(query), dev))
    reply = ex.reply
    assert_clean(reply)
    assert reply.status in (200, 400), reply.body[:1000]
    assert reply.json().get("data") is None
    assert reply.codes() and set(reply.codes()) <= CLIENT_CODES, reply.body[:1000]


# --- numbers --------------------------------------------------------------------------------
@pytest.mark.parametrize("number", [b"9" * 5000, b"-" + b"9" * 5000, b"1e999999", b"-1e999999", b"1" + b"0" * 400
                                    + b".5", b"18446744073709551616"],
                         ids=["int-5000-digits", "negative", "float-overflow", "negative-overflow", "long-float",
                              "u64-plus-one"])
def test_json_numbers_too_big_for_any_type(api: Api, dev: str, serving: None, number: bytes) -> None:
    body = b'{"query": "query($n: Int) { persons(first: $n) { totalCount } }", "variables": {"n": ' + number + b"}}"
    ex = exchange(api, request(body, dev))
    reply = ex.reply
    assert_clean(reply)
    assert reply.status in (200, 400), reply.body[:1000]
    assert reply.json().get("data") is None
    assert reply.codes() and set(reply.codes()) <= CLIENT_CODES, reply.body[:1000]


@pytest.mark.parametrize("value", [2 ** 64 - 1, -(2 ** 63), 2 ** 31, 1e308, -0.0],
                         ids=["u64-max", "i64-min", "i32-max-plus-one", "float-max", "negative-zero"])
def test_json_numbers_out_of_int_range_in_variables(api: Api, dev: str, serving: None, value: float) -> None:
    ex = exchange(api, request(graphql("query($n: Int) { persons(first: $n) { totalCount } }", {"n": value}), dev))
    reply = ex.reply
    assert_clean(reply)
    if value == 0:  # -0.0 is the integer 0: a valid page of nothing
        assert reply.status == 200 and reply.json()["data"]["persons"]["totalCount"] > 0
        return
    assert reply.status in (200, 400)
    assert reply.json().get("data") is None
    assert set(reply.codes()) <= CLIENT_CODES, reply.body[:1000]


@pytest.mark.parametrize("query", [
    "{ persons(first: " + "9" * 5000 + ") { totalCount } }",
    "{ persons(first: -" + "9" * 5000 + ") { totalCount } }",
    "{ persons(first: 1, filter: {ageMin: " + "9" * 5000 + "}) { totalCount } }",
    "query($n: Int = " + "9" * 5000 + ") { persons(first: $n) { totalCount } }",
    "{ persons(first: " + "9" * 50 + ") { totalCount } }",
    "{ persons(first: 1e99999) { totalCount } }",
    "{ persons(first: 1, filter: {ageMin: 1" + "0" * 4000 + ".5}) { totalCount } }",
], ids=["first-5000-digits", "negative-5000-digits", "filter-5000-digits", "default-5000-digits", "first-50-digits",
        "float-exponent", "float-4000-digits"])
def test_graphql_number_literals_too_big_for_any_type(api: Api, dev: str, serving: None, query: str) -> None:
    """Python refuses to convert integers of over 4300 digits: that must surface as a client error."""
    ex = exchange(api, request(graphql(query), dev))
    reply = ex.reply
    assert_clean(reply)
    assert reply.status in (200, 400), reply.body[:1000]
    assert reply.json().get("data") is None, reply.body[:1000]
    assert reply.codes() and set(reply.codes()) <= CLIENT_CODES, reply.body[:1000]


# --- null bytes -----------------------------------------------------------------------------
@pytest.mark.parametrize(("body", "status", "code"), [
    (b'{"query": "{ persons(first: 1) { totalCount } }\x00"}', 400, "BAD_USER_INPUT"),
    (b'{"query": "{ persons(first: 1) { totalCount } }"}\x00', 400, "BAD_USER_INPUT"),
    (b'{"query": "{ pers\\u0000ons(first: 1) { totalCount } }"}', 400, "GRAPHQL_PARSE_FAILED"),
    (b'{"query": "{ persons(first: 1) { totalCount } }\\u0000"}', 400, "GRAPHQL_PARSE_FAILED"),
    (b'{"query": "{ persons(first: 1, filter: {committee: \\"310107005\\u0000003\\"}) { totalCount } }"}', 200,
     "INVALID_JURISDICTION"),
    (b'{"query": "{ persons(first: 1, filter: {committee: \\"\\\\u0000\\"}) { totalCount } }"}', 200,
     "INVALID_JURISDICTION"),
    ((b'{"query": "query($c: String) { persons(first: 1, filter: {committee: $c}) { totalCount } }", '
     b'"variables": {"c": "310107005003\\u0000"}}'), 200, "INVALID_JURISDICTION"),
    (b'{"query": "query A { persons(first: 1) { totalCount } }", "operationName": "A\\u0000"}', 400,
     "BAD_USER_INPUT"),
], ids=["raw-in-string", "raw-after-json", "escaped-in-name", "escaped-trailing", "escaped-in-argument",
        "graphql-escape", "in-variable", "in-operation-name"])
def test_null_bytes_are_refused_with_a_code(api: Api, dev: str, serving: None, body: bytes, status: int,
                                            code: str) -> None:
    ex = exchange(api, request(body, dev))
    assert_clean(ex.reply)
    assert ex.reply.status == status, ex.raw[:1000]
    assert ex.reply.codes() == [code], ex.raw[:1000]
    if status == 200:
        assert ex.reply.json()["data"] == {"persons": None}


def test_null_byte_in_a_header_is_refused_by_http(api: Api, dev: str, serving: None) -> None:
    assert_http_refused(exchange(api, request(BODY, dev, {"X-Purpose": "care\x00review"})))


# --- a megabyte of whitespace --------------------------------------------------------------------
def test_a_megabyte_of_whitespace_is_413_before_it_is_read(api: Api, dev: str, serving: None) -> None:
    """Refused on the declared length: the answer comes before the client has sent the body."""
    body = b'{"query": "' + b" " * (1 << 20) + PERSONS.encode() + b'"}'
    head = request(body, dev, close=False)[: -len(body)]  # keep-alive asked: the server closes all the same
    t0 = time.monotonic()
    with connect(api) as sock:
        sock.sendall(head)
        raw, closed = read_all(sock)
    assert time.monotonic() - t0 < 2
    replies = parse_replies(raw)
    assert len(replies) == 1 and closed, raw[:1000]
    assert_refused(Exchange(replies, closed, 0, raw), 413, {"REQUEST_TOO_LARGE"})


def test_a_megabyte_of_whitespace_sent_whole_is_413_or_cut(api: Api, dev: str, serving: None) -> None:
    """A client that pushes the whole body anyway gets the 413 or a reset, quickly; never a 5xx."""
    body = b'{"query": "' + b" " * (1 << 20) + PERSONS.encode() + b'"}'
    ex = exchange(api, request(body, dev))
    assert ex.closed and ex.seconds < 5
    for reply in ex.replies:
        assert reply.status == 413 and reply.codes() == ["REQUEST_TOO_LARGE"]


def test_whitespace_under_the_limit_is_answered_quickly(api: Api, dev: str, serving: None) -> None:
    body = graphql(" \n\t\r" * 25_000 + PERSONS + " ,,,," * 1000)
    assert len(body) < api.settings.max_body_bytes
    ex = exchange(api, request(body, dev))
    assert ex.reply.status == 200, ex.raw[:1000]
    assert ex.reply.json()["data"]["persons"]["totalCount"] > 0
    assert ex.seconds < 3


# --- duplicate keys, odd variables, unicode escapes ------------------------------------------------
@pytest.mark.parametrize("body", [
    b'{"query": "{ nope }", "query": "{ persons(first: 1) { totalCount } }"}',
    (b'{"query": "query($n: Int) { persons(first: $n) { totalCount } }", "variables": {"n": "x"}, '
    b'"variables": {"n": 1}}'),
    b'{"query": "query($n: Int) { persons(first: $n) { totalCount } }", "variables": {"n": "x", "n": 1}}',
    b'{"query": "query A { persons(first: 1) { totalCount } }", "operationName": "B", "operationName": "A"}',
], ids=["query", "variables", "variable", "operation-name"])
def test_duplicate_keys_the_last_one_wins(api: Api, dev: str, serving: None, body: bytes) -> None:
    """One reading of a body with duplicate keys, the same everywhere it is read: the last value."""
    ex = exchange(api, request(body, dev))
    assert ex.reply.status == 200, ex.raw[:1000]
    assert ex.reply.codes() == []
    assert ex.reply.json()["data"]["persons"]["totalCount"] > 0


@pytest.mark.parametrize("variables", [b'"{\\"n\\": 1}"', b'""', b"[]", b"false", b"0", b'"null"', b"[{}]"],
                         ids=["json-text", "empty-string", "empty-list", "false", "zero", "string-null",
                              "list-of-object"])
def test_variables_that_are_not_an_object_are_bad_user_input(api: Api, dev: str, serving: None,
                                                             variables: bytes) -> None:
    body = b'{"query": "query($n: Int) { persons(first: $n) { totalCount } }", "variables": ' + variables + b"}"
    assert_refused(exchange(api, request(body, dev)), 400, {"BAD_USER_INPUT"})


@pytest.mark.parametrize(("body", "code"), [
    (b'{"\\u0071uery": "\\u007b persons(first: 1) \\u007b totalCount \\u007d \\u007d"}', None),
    (b'{"query": "{ persons(first: 1, filter: {committee: \\"\\ud83d\\ude00\\"}) { totalCount } }"}',
     "INVALID_JURISDICTION"),
    (b'{"query": "{ persons(first: 1, filter: {committee: \\"\\\\u{1F600}\\"}) { totalCount } }"}',
     "INVALID_JURISDICTION"),
    (b'{"query": "{ persons(first: 1, filter: {committee: \\"\\\\uD83D\\\\uDE00\\"}) { totalCount } }"}',
     "INVALID_JURISDICTION"),
    (b'{"query": "{ persons(first: 1, filter: {committee: \\"\\\\uD800\\"}) { totalCount } }"}',
     "GRAPHQL_PARSE_FAILED"),
    (b'{"query": "{ persons(first: 1, filter: {committee: \\"\\\\u{110000}\\"}) { totalCount } }"}',
     "GRAPHQL_PARSE_FAILED"),
    (b'{"query": "{ pers\\u043Ens(first: 1) { totalCount } }"}', "GRAPHQL_PARSE_FAILED"),
    (b'{"query": "{ persons(first: 1) { totalCount } }\\u202e\\u2066"}', "GRAPHQL_PARSE_FAILED"),
    (b'{"query": "\\ufeff{ persons(first: 1) { totalCount } }"}', None),
], ids=["escaped-document", "json-surrogate-pair", "graphql-braced-escape", "graphql-surrogate-pair",
        "graphql-lone-surrogate", "graphql-beyond-unicode", "cyrillic-o-in-name", "bidi-controls", "graphql-bom"])
def test_unicode_escapes_are_read_once_and_refused_cleanly(api: Api, dev: str, serving: None, body: bytes,
                                                           code: str | None) -> None:
    ex = exchange(api, request(body, dev))
    reply = ex.reply
    assert_clean(reply)
    if code is None:  # the same document as the plain one
        assert reply.status == 200 and reply.codes() == [], ex.raw[:1000]
        assert reply.json()["data"]["persons"]["totalCount"] > 0
    else:
        assert reply.status in (200, 400)
        assert reply.codes() == [code], ex.raw[:1000]


# --- headers ------------------------------------------------------------------------------
def test_a_header_block_over_the_limit_is_refused_by_http(api: Api, dev: str, serving: None) -> None:
    """A megabyte of headers: uvicorn (h11) stops buffering at its limit; a 4xx or a close, not a hang."""
    pad = {f"X-Pad-{i}": "a" * 1000 for i in range(1000)}
    ex = exchange(api, request(BODY, dev, pad))
    assert_http_refused(ex)
    assert ex.seconds < 5


def test_a_single_huge_header_line_is_refused_by_http(api: Api, dev: str, serving: None) -> None:
    ex = exchange(api, request(BODY, dev, {"X-Pad": "a" * (1 << 20)}))
    assert_http_refused(ex)
    assert ex.seconds < 5


@pytest.mark.parametrize("value", [
    "Bearer " + "a" * 100_000,
    "Bearer " + "eyJ" + "a" * 50_000 + "." + "b" * 50_000 + "." + "c" * 100,
    "Bearer " + ".".join(["e30"] * 3) + " " + "x" * 100_000,
    "Basic " + "QUJD" * 25_000,
    "bearer" + " " * 100_000 + "x",
], ids=["opaque", "jwt-shaped", "trailing", "basic", "spaces"])
def test_an_authorization_header_of_100kb_is_401_or_refused_by_http(api: Api, serving: None, value: str) -> None:
    ex = exchange(api, request(BODY, None, {"Authorization": value}))
    if not ex.replies or not ex.replies[0].headers.get("content-type", "").startswith("application/json"):
        assert_http_refused(ex)  # uvicorn's header limit, when the block arrives in pieces
        return
    assert_refused(ex, 401, {"UNAUTHENTICATED", "INVALID_TOKEN"})
    assert ex.seconds < 3


# --- connections: idle, slow, HTTP/1.0, pipelined ------------------------------------------------
def test_idle_connections_do_not_starve_a_normal_client(api: Api, dev: str) -> None:
    socks: list[socket.socket] = []
    try:
        for i in range(200):
            s = connect(api)
            if i % 4 == 0:  # some also start a request and stop mid-way
                s.sendall(b"POST /graphql HTTP/1.1\r\nHost: gateway\r\nContent-Le")
            socks.append(s)
        for _ in range(5):
            still_serving(api, dev, max_s=3)
    finally:
        for s in socks:
            s.close()
    still_serving(api, dev, max_s=3)


class Slowloris(threading.Thread):
    """Sends ``data`` one byte every ``interval`` seconds until told to stop."""

    def __init__(self, api: Api, data: bytes, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.sock = connect(api)
        self.data, self.interval = data, interval
        self.stop = threading.Event()
        self.sent = 0

    def run(self) -> None:
        for b in self.data:
            if self.stop.wait(self.interval):
                return
            try:
                self.sock.send(bytes([b]))
            except OSError:
                return
            self.sent += 1

    def end(self) -> None:
        self.stop.set()
        self.join(5)
        self.sock.close()


@pytest.mark.parametrize("part", ["headers", "body"])
def test_slowloris_does_not_slow_a_normal_client(api: Api, dev: str, part: str) -> None:
    full = request(BODY, dev)
    head_len = full.index(b"\r\n\r\n") + 4
    slow = [Slowloris(api, full) for _ in range(5)] if part == "headers" else []
    for _ in range(5 if part == "body" else 0):
        s = Slowloris(api, full[head_len:])
        s.sock.sendall(full[:head_len])
        slow.append(s)
    for s in slow:
        s.start()
    try:
        for _ in range(10):
            still_serving(api, dev, max_s=2)
            time.sleep(0.2)
        assert all(s.sent >= 10 for s in slow), [s.sent for s in slow]  # they were trickling meanwhile
    finally:
        for s in slow:
            s.end()


def test_a_body_shorter_than_its_content_length_times_out_with_408(make_api: Callable[..., Api]) -> None:
    """The client stops sending mid-body: answered at the request deadline, the connection freed."""
    api = make_api(request_deadline_s=1.5)
    tok = api.token("developer")
    ex = exchange(api, request(BODY, tok, {"Content-Length": str(len(BODY) + 100)}))
    assert 1.4 < ex.seconds < 6, ex.seconds
    assert_refused(ex, 408, {"REQUEST_TIMEOUT"})
    assert ex.closed
    still_serving(api, tok)


def test_http_1_0_is_answered_and_closed(api: Api, dev: str, serving: None) -> None:
    ex = exchange(api, request(BODY, dev, line="POST /graphql HTTP/1.0", close=False))
    assert ex.closed
    assert ex.reply.status == 200, ex.raw[:1000]
    assert ex.reply.json()["data"]["persons"]["totalCount"] > 0


def test_http_1_0_keep_alive_and_pipelined_requests_are_answered_in_order(api: Api, dev: str,
                                                                        serving: None) -> None:
    committees = graphql("{ committees(first: 1) { totalCount } }")
    bad = b'{"query": "{ persons(first: 1) { totalCount }"}'
    data = (request(BODY, dev, close=False) + request(committees, dev, close=False) + request(bad, dev, close=False)
            + request(b"not json", dev, close=False) + request(committees, dev, close=True))
    ex = exchange(api, data)
    assert ex.closed
    assert [r.status for r in ex.replies] == [200, 200, 400, 400, 200], ex.raw[:3000]
    assert ex.replies[0].json()["data"]["persons"]["totalCount"] > 0
    assert ex.replies[1].json()["data"]["committees"]["totalCount"] > 0
    assert ex.replies[2].codes() == ["GRAPHQL_PARSE_FAILED"]
    assert ex.replies[3].codes() == ["BAD_USER_INPUT"]
    assert ex.replies[4].json() == ex.replies[1].json()
    ids = [r.headers.get("x-request-id") for r in ex.replies]
    assert all(ids) and len(set(ids)) == 5, ids


def test_pipelined_after_a_refusal_of_the_body_size(api: Api, dev: str, serving: None) -> None:
    """A 413 on the declared length leaves the unread body on the wire: the connection must close, not be
    read as the next request."""
    smuggled = request(BODY, dev, close=False)
    big = b" " * (api.settings.max_body_bytes + 1 - len(smuggled)) + smuggled
    ex = exchange(api, request(big, dev, close=False))
    assert ex.closed and ex.seconds < 5
    assert [r.status for r in ex.replies] in ([413], []), ex.raw[:2000]  # [] if the close reset the 413 away
    assert all(r.headers.get("connection") == "close" for r in ex.replies)


def test_a_declared_10gb_body_is_413_and_closed(api: Api, dev: str, serving: None) -> None:
    """Refused on the declared length and closed: nothing drains the 10 GB the client may go on sending."""
    with connect(api) as sock:
        sock.sendall(request(b"", dev, {"Content-Length": str(10 << 30)}, close=False) + b" " * 65536)
        raw, closed = read_all(sock)
    replies = parse_replies(raw)
    assert closed and [r.status for r in replies] == [413], raw[:1000]
    assert replies[0].headers.get("connection") == "close"
    assert codes(replies[0].json()) == ["REQUEST_TOO_LARGE"]


# --- framing -------------------------------------------------------------------------------
@pytest.mark.parametrize(("headers", "body"), [
    ({"Content-Length": None, "Transfer-Encoding": "chunked"}, b"zz\r\n" + BODY + b"\r\n0\r\n\r\n"),
    ({"Content-Length": None, "Transfer-Encoding": "chunked"}, b"-5\r\n" + BODY + b"\r\n0\r\n\r\n"),
    ({"Content-Length": None, "Transfer-Encoding": "chunked"}, b"f" * 40 + b"\r\n" + BODY + b"\r\n0\r\n\r\n"),
    ({"Content-Length": None, "Transfer-Encoding": "chunked"}, b"5\r\n" + BODY + b"\r\n0\r\n\r\n"),
    ({"Content-Length": None, "Transfer-Encoding": "gzip, chunked"}, b"5\r\nabcde\r\n0\r\n\r\n"),
    ({"Content-Length": None, "Transfer-Encoding": "identity"}, BODY),
    ({"Content-Length": "abc"}, BODY),
    ({"Content-Length": "-1"}, BODY),
    ({"Content-Length": "9" * 40}, BODY),
    ({"Content-Length": f"{len(BODY)}, {len(BODY) + 1}"}, BODY),
], ids=["chunk-size-not-hex", "chunk-size-negative", "chunk-size-overflow", "chunk-shorter-than-data",
        "unsupported-coding", "identity", "length-not-a-number", "length-negative", "length-40-digits",
        "two-lengths"])
def test_bad_framing_is_refused_by_http(api: Api, dev: str, serving: None, headers: dict[str, str | None],
                                        body: bytes) -> None:
    assert_http_refused(exchange(api, request(body, dev, headers)))


def test_chunked_with_content_length_is_read_as_chunked_only(api: Api, dev: str, serving: None) -> None:
    """Both framings at once (a smuggling attempt): one reading, the chunked one, and one answer."""
    inner = request(BODY, dev, close=False)
    chunked = f"{len(BODY):x}\r\n".encode() + BODY + b"\r\n0\r\n\r\n"
    ex = exchange(api, request(chunked + inner, dev, {"Transfer-Encoding": "chunked",
                                                      "Content-Length": str(len(chunked + inner))}))
    assert ex.replies and all(r.status < 500 for r in ex.replies), ex.raw[:2000]
    assert ex.replies[0].status == 200, ex.raw[:2000]  # the chunked body alone: Content-Length was ignored
    assert ex.replies[0].json()["data"]["persons"]["totalCount"] > 0
    assert len(ex.replies) <= 2  # what follows the last chunk is at most one more request, never a third


@pytest.mark.parametrize("data", [
    b"GARBAGE\r\n\r\n",
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"POST /graphql HTTP/9.9\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
    b"POST /graphql\r\n\r\n",
    b"POST /graphql HTTP/1.1\r\nHost: x\r\nConnection: close\r\nBad Header: y\r\nContent-Length: 2\r\n\r\n{}",
    b"POST /graphql HTTP/1.1\r\n Host: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
    b"POST /graphql HTTP/1.1\nHost: x\nConnection: close\nContent-Length: 2\n\n{}",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,
    b"POST /graphql\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
], ids=["garbage", "http2-preface", "http-9.9", "http-0.9", "space-in-name", "folded", "bare-lf", "tls-hello",
        "null-in-target"])
def test_malformed_http_is_a_4xx_or_a_close(api: Api, dev: str, serving: None, data: bytes) -> None:
    ex = exchange(api, data)
    assert ex.closed
    for reply in ex.replies:
        assert reply.status < 500, ex.raw[:1000]
        assert_clean(reply)


def test_the_gateway_survives_the_whole_sweep(api: Api, dev: str) -> None:
    """Last in the file: after every case above, a normal query and the health check still answer."""
    still_serving(api, dev)
    assert CLIENT.get(api.base + "/healthz", timeout=5).status_code == 200
