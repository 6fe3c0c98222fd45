"""WebSocket /graphql: the graphql-transport-ws protocol as a client speaks it (the `websockets`
library on a real loopback socket), and every refusal with its stable close code or error code."""
from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from tests.helpers import Api

PROTOCOL = "graphql-transport-ws"
COMMITTEE = "310107005001"
SUB = "subscription($c: ID!) { alerts(committee: $c) { id status house { addressCode } } }"


def _url(api: Api) -> str:
    return api.base.replace("http://", "ws://") + "/graphql"


async def _talk(api: Api, messages: list[Any], answers: int = 1, subprotocol: str | None = PROTOCOL,
                wait_s: float = 10.0) -> tuple[list[dict[str, Any]], int | None]:
    """Send ``messages`` (dicts as JSON, str as is); answers: what came back and the close code (None: open)."""
    got: list[dict[str, Any]] = []
    async with websockets.connect(_url(api), subprotocols=[subprotocol] if subprotocol else None,
                                  open_timeout=10) as ws:
        try:
            for m in messages:
                await ws.send(m if isinstance(m, str) else orjson.dumps(m).decode())
            async with asyncio.timeout(wait_s):
                while len(got) < answers:
                    got.append(orjson.loads(await ws.recv()))
        except ConnectionClosed as e:
            return got, e.rcvd.code if e.rcvd else None
        return got, None


def _init(api: Api, role: str = "committee_secretary", jurisdiction: str = COMMITTEE) -> dict[str, Any]:
    return {"type": "connection_init", "payload": {"Authorization": f"Bearer {api.token(role, jurisdiction)}"}}


def _sub(api: Api, committee: str = COMMITTEE, query: str = SUB, sid: str = "1") -> dict[str, Any]:
    return {"id": sid, "type": "subscribe",
            "payload": {"query": query, "variables": {"c": api.gateway.ids.encode("Committee", committee)}}}


def test_the_handshake_and_ping(api: Api) -> None:
    got, code = asyncio.run(_talk(api, [_init(api), {"type": "ping"}], answers=2))
    assert [m["type"] for m in got] == ["connection_ack", "pong"] and code is None


@pytest.mark.parametrize("auth", ["Bearer not-a-jwt", "", "Basic abc"])
def test_a_bad_token_closes_4403(api: Api, auth: str) -> None:
    got, code = asyncio.run(_talk(api, [{"type": "connection_init", "payload": {"Authorization": auth}}]))
    assert got == [] and code == 4403


def test_subscribe_before_init_closes_4401(api: Api) -> None:
    assert asyncio.run(_talk(api, [_sub(api)])) == ([], 4401)


def test_a_second_init_closes_4429(api: Api) -> None:
    got, code = asyncio.run(_talk(api, [_init(api), _init(api)], answers=2))
    assert [m["type"] for m in got] == ["connection_ack"] and code == 4429


@pytest.mark.parametrize("bad", ["{not json", "[1, 2]", '{"type": "launch"}', '{"type": "subscribe", "id": 7}'])
def test_malformed_messages_close_4400(api: Api, bad: str) -> None:
    got, code = asyncio.run(_talk(api, [_init(api), bad], answers=2))
    assert [m["type"] for m in got] == ["connection_ack"] and code == 4400


def test_a_duplicate_subscription_id_closes_4409(api: Api) -> None:
    _, code = asyncio.run(_talk(api, [_init(api), _sub(api), _sub(api)], answers=3))
    assert code == 4409


def test_without_the_subprotocol_the_socket_is_refused(api: Api) -> None:
    with pytest.raises(Exception):  # noqa: B017  (the handshake fails: HTTP 403 or close 4406)
        asyncio.run(_talk(api, [_init(api)], subprotocol=None))


def _error_codes(got: list[dict[str, Any]]) -> list[str]:
    out = []
    for m in got:
        if m["type"] == "error":
            out += [e["extensions"]["code"] for e in m["payload"]]
        elif m["type"] == "next":
            out += [e["extensions"]["code"] for e in m["payload"].get("errors") or ()]
    return out


@pytest.mark.parametrize("role", ["developer", "district_analyst", "family_doctor", "resident"])
def test_a_role_without_the_grant_is_refused(api: Api, role: str) -> None:
    got, _ = asyncio.run(_talk(api, [_init(api, role), _sub(api)], answers=2))
    assert _error_codes(got) == ["UNAUTHORIZED_FIELD_OR_TYPE"]


def test_a_subscription_selecting_a_denied_field_is_refused_whole(api: Api) -> None:
    q = "subscription($c: ID!) { alerts(committee: $c) { id residents { name health { chronicDisease } } } }"
    got, _ = asyncio.run(_talk(api, [_init(api, "committee_worker"), _sub(api, query=q)], answers=2))
    assert _error_codes(got) == ["UNAUTHORIZED_FIELD_OR_TYPE"]


def test_another_committees_alerts_are_not_found(api: Api) -> None:
    got, _ = asyncio.run(_talk(api, [_init(api), _sub(api, committee="310107005002")], answers=3))
    assert _error_codes(got) == ["NOT_FOUND"]
    assert got[-1] == {"id": "1", "type": "complete"}


@pytest.mark.parametrize("query, code", [
    ("{ persons { totalCount } }", "BAD_USER_INPUT"),  # queries are POSTed
    ("subscription { alerts(committee: ", "GRAPHQL_PARSE_FAILED"),
    ("subscription { " + "a: __typename " * 200 + "}", "QUERY_TOO_COMPLEX"),
])
def test_what_a_post_refuses_a_subscription_refuses(api: Api, query: str, code: str) -> None:
    got, _ = asyncio.run(_talk(api, [_init(api), {"id": "1", "type": "subscribe", "payload": {"query": query}}],
                               answers=2))
    assert got[1]["type"] == "error" and [e["extensions"]["code"] for e in got[1]["payload"]] == [code]


def test_an_open_subscription_is_completed_by_the_client(api: Api) -> None:
    got, code = asyncio.run(_talk(api, [_init(api), _sub(api), {"id": "1", "type": "complete"}, {"type": "ping"}],
                                  answers=2))
    assert [m["type"] for m in got] == ["connection_ack", "pong"] and code is None
