"""No client can hurt another: cost, deadline, size, echo and introspection, tried as an attacker would.

Every test talks to a real gateway over loopback HTTP with real tokens.
"""
from __future__ import annotations

import json
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import get_introspection_query

from tests.helpers import CLIENT, ROOT, Api, adapter_calls, codes

FAN_OUT = ("{ committees(first:1000){ edges{ node{ compounds{ buildings{ houses{ residents{ household{ members{"
           " household{ members{ name } } } } } } } } } } } }")
WORKER = "310107005003"


@pytest.fixture(scope="module")
def dev_api(make_api: Callable[..., Api]) -> Api:
    return make_api(dev_mode=True)


def _echoes(body: Any, s: str, n: int = 65) -> bool:
    return s[:n] in json.dumps(body, ensure_ascii=False)


# --- cost ---------------------------------------------------------------------------------------
def test_fan_out_query_is_refused_before_any_department_call(api: Api) -> None:
    """The deep fan-out passes depth, alias and token limits; its static cost does not."""
    dev = api.token("developer")
    before = adapter_calls(api)
    t0 = time.perf_counter()
    r = api.post(FAN_OUT, dev)
    elapsed = time.perf_counter() - t0
    assert r.status_code == 400, r.text
    [err] = r.json()["errors"]
    assert err["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert err["extensions"]["cost"] > err["extensions"]["budget"] == api.settings.cost_budget
    assert adapter_calls(api) == before
    assert elapsed < 5  # a refusal does no work; the real figure is in the closing note (ms)


def test_cost_counts_first_fan_out_and_aliases(api: Api) -> None:
    dev = api.token("developer")
    one = api.gql("{ persons(first: 10) { edges { node { name } } } }", dev, **{"X-Gateway-Trace": "1"})
    two = api.gql("{ persons(first: 20) { edges { node { name a: name } } } }", dev, **{"X-Gateway-Trace": "1"})
    c1, c2 = one["extensions"]["trace"]["cost"], two["extensions"]["trace"]["cost"]
    # persons + edges once; node and each field once per row of the page
    assert c1["estimated"] == 2 + 10 * 2
    assert c2["estimated"] == 2 + 20 * 3
    nested = api.gql("{ houses(first: 10) { edges { node { residents { name } } } } }", dev,
                     **{"X-Gateway-Trace": "1"})["extensions"]["trace"]["cost"]
    assert nested["estimated"] > 10  # the residents' fan-out multiplies down the path
    assert nested["rows"] >= 10 and nested["estimatedRows"] >= 10  # estimated beside actual


def test_a_role_budget_in_the_policy_files_overrides_the_setting(make_api: Callable[..., Api],
                                                                tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", policies)
    (policies / "budgets.csv").write_text("budget, committee_worker, 50\n", encoding="utf-8")
    api = make_api(policy_dir=policies)
    small = api.post("{ persons(first: 10) { edges { node { name } } } }", api.token("committee_worker", WORKER))
    assert small.status_code == 200 and codes(small.json()) == []
    big = api.post("{ persons(first: 100) { edges { node { name } } } }", api.token("committee_worker", WORKER))
    assert big.status_code == 400 and codes(big.json()) == ["QUERY_TOO_COSTLY"]
    assert big.json()["errors"][0]["extensions"]["budget"] == 50
    dev = api.post("{ persons(first: 100) { edges { node { name } } } }", api.token("developer"))
    assert dev.status_code == 200  # other roles keep the setting's budget


def test_bad_budget_line_stops_the_policy_load(tmp_path: Path) -> None:
    from common.errors import PolicyFileError
    from policies.engine import PolicyEngine

    policies = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", policies)
    for bad in ("budget, committee_worker, -3", "budget, nobody, 10", "budget, committee_worker"):
        (policies / "budgets.csv").write_text(bad + "\n", encoding="utf-8")
        with pytest.raises(PolicyFileError) as e:
            PolicyEngine(policies)
        assert e.value.details["file"] == "budgets.csv" and e.value.details["line"] == 1


# --- deadline -------------------------------------------------------------------------------------
class _Slow:
    """A department that answers nothing for ``delay_s``."""

    def __init__(self, delay_s: float) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                time.sleep(delay_s)
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            do_POST = do_GET

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def slow() -> Iterator[_Slow]:
    s = _Slow(3.0)
    yield s
    s.close()


def test_request_deadline_cancels_outstanding_department_calls(make_api: Callable[..., Api], slow: _Slow) -> None:
    api = make_api(env={"GREENING_URL": slow.url}, request_deadline_s=0.6)
    t0 = time.perf_counter()
    r = api.post("{ shops(first: 5) { edges { node { name appearance { shopFrontCompliant } } } } }",
                 api.token("inspector"))
    elapsed = time.perf_counter() - t0
    assert r.status_code == 504, r.text
    assert codes(r.json()) == ["REQUEST_TIMEOUT"]
    assert elapsed < 2.5  # the deadline, not the department's 5 s timeout or its 3 s delay


# --- size -----------------------------------------------------------------------------------------
def test_body_over_the_limit_is_413(api: Api) -> None:
    body = json.dumps({"query": "{ persons(first: 1) { totalCount } }", "pad": "x" * 2_000_000}).encode()
    r = api.post("", api.token("developer"), raw=body)
    assert r.status_code == 413 and codes(r.json()) == ["REQUEST_TOO_LARGE"]


@pytest.mark.parametrize("size", [2_000_000, 12_000_000])
def test_a_client_that_sends_its_whole_body_reads_the_413(api: Api, size: int) -> None:
    """urllib writes the whole body before it reads: the early 413 must not reach it as a broken pipe
    (the closing connection lingers, reading and dropping the rest)."""
    import urllib.error
    import urllib.request

    body = json.dumps({"query": "{ persons(first: 1) { totalCount } }", "pad": "x" * size}).encode()
    req = urllib.request.Request(api.base + "/graphql", data=body, method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {api.token('developer')}"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, timeout=30)
    assert refused.value.code == 413
    assert codes(json.loads(refused.value.read())) == ["REQUEST_TOO_LARGE"]


def test_chunked_body_over_the_limit_is_413_while_reading(api: Api) -> None:
    """No Content-Length to trust: the limit is enforced on the bytes as they arrive."""
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        yield b'{"query": "{ persons(first: 1) { totalCount } }", "pad": "'
        for _ in range(4000):  # 4000 x 1 KB: far more than the gateway will read
            sent += 1024
            yield b"x" * 1024
        yield b'"}'

    with httpx.Client() as c:
        r = c.post(api.base + "/graphql", content=chunks(), timeout=30,
                   headers={"Authorization": f"Bearer {api.token('developer')}",
                            "Content-Type": "application/json"})
    assert r.status_code == 413 and codes(r.json()) == ["REQUEST_TOO_LARGE"]


def test_variables_over_their_limit_are_413(api: Api) -> None:
    r = api.post("query($n: String) { persons(first: 1) { totalCount } }", api.token("developer"),
                 variables={"n": "y" * (api.settings.max_variables_bytes + 10)})
    assert r.status_code == 413 and codes(r.json()) == ["REQUEST_TOO_LARGE"]
    assert r.json()["errors"][0]["extensions"]["argument"] == "variables"


# --- echo -----------------------------------------------------------------------------------------
LONG = "A" * 20000


@pytest.mark.parametrize("query, variables", [
    (f'{{ persons(first: 1, filter: {{name: "{LONG}"}}) {{ totalCount }} }}', None),
    (f'{{ persons(first: 1, filter: {{ageMin: "{LONG}"}}) {{ totalCount }} }}', None),
    (f'{{ persons(first: "{LONG}") {{ totalCount }} }}', None),
    (f"{{ {LONG} }}", None),
    (f"{{ persons(first: 1) {{ {LONG}: name }} }}", None),
    ("query($x: Int) { persons(first: $x) { totalCount } }", {"x": LONG}),
    ("query($f: PersonFilter) { persons(first: 1, filter: $f) { totalCount } }", {"f": {LONG: 1}}),
    (f'{{ persons(first: 1, after: "{LONG}") {{ totalCount }} }}', None),
    (f'{{ person(id: "{LONG}") {{ name }} }}', None),
    (f'{{ persons(first: 1 "{LONG}', None),
    (f"query {LONG} {{ persons(first: 1) {{ totalCount }} }} query B {{ __typename }}", None),
])
def test_no_error_echoes_more_than_64_characters_of_input(api: Api, query: str, variables: Any) -> None:
    r = api.post(query, api.token("developer"), variables=variables)
    assert r.status_code < 500, r.text[:200]
    body = r.json()
    assert body.get("errors"), body
    assert not _echoes(body, LONG)


def test_long_input_in_a_message_is_cut_not_dropped() -> None:
    from gateway.echo import MAX_ECHO, clip, long_inputs

    s = "B" * 300
    pieces = long_inputs(f'{{ persons(filter: {{name: "{s}"}}) }}', {})
    msg = clip(f'unknown value "{s}" here', pieces)
    assert msg.startswith('unknown value "' + "B" * (MAX_ECHO - 1)) and msg.endswith('…" here')


# --- introspection ----------------------------------------------------------------------------------
def _types(body: dict[str, Any]) -> dict[str, Any]:
    return {t["name"]: t for t in body["data"]["__schema"]["types"]}


def test_standard_introspection_query_works_in_dev_mode(dev_api: Api) -> None:
    body = dev_api.gql(get_introspection_query(descriptions=True), dev_api.token("developer"))
    assert codes(body) == []
    types = _types(body)
    person = {f["name"] for f in types["Person"]["fields"]}
    assert {"idNumber", "welfare", "house", "household"} <= person
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


def test_introspection_shows_each_role_only_what_it_may_read(dev_api: Api) -> None:
    body = dev_api.gql(get_introspection_query(), dev_api.token("committee_worker", WORKER))
    types = _types(body)
    person = {f["name"] for f in types["Person"]["fields"]}
    assert "health" not in person and "HealthRecord" not in types
    assert "idNumber" in person  # masked is still readable: it stays
    analyst = _types(dev_api.gql(get_introspection_query(), dev_api.token("district_analyst")))
    # counts, and the catalogues of tag and rule definitions (no rows): nothing else
    assert {f["name"] for f in analyst["Query"]["fields"]} == {"stats", "tags", "eligibilityRules"} | (
        {f["name"] for f in analyst["Query"]["fields"]} & {"node"})
    one = dev_api.gql('{ __type(name: "Person") { fields { name } } }', dev_api.token("committee_worker", WORKER))
    assert "health" not in {f["name"] for f in one["data"]["__type"]["fields"]}
    gone = dev_api.gql('{ __type(name: "HealthRecord") { name } }', dev_api.token("committee_worker", WORKER))
    assert gone["data"]["__type"] is None


def test_introspection_through_aliases_and_fragments_is_filtered_too(dev_api: Api) -> None:
    q = """query { s: __schema { t: types { ...T } } }
           fragment T on __Type { n: name f: fields { x: name } }"""
    body = dev_api.gql(q, dev_api.token("committee_worker", WORKER))
    person = next(t for t in body["data"]["s"]["t"] if t["n"] == "Person")
    assert "health" not in {f["x"] for f in person["f"]}


def test_introspection_mixed_with_data_is_refused(dev_api: Api) -> None:
    r = dev_api.post("{ __schema { queryType { name } } persons(first: 1) { totalCount } }",
                     dev_api.token("developer"))
    assert r.status_code == 400 and codes(r.json()) == ["BAD_USER_INPUT"]


def test_production_refuses_introspection_and_suggestions(api: Api) -> None:
    assert not api.settings.dev_mode
    r = api.post(get_introspection_query(), api.token("developer"))
    assert r.status_code == 400 and codes(r.json()) == ["INTROSPECTION_DISABLED"]
    r = api.post('{ __type(name: "Person") { name } }', api.token("developer"))
    assert codes(r.json()) == ["INTROSPECTION_DISABLED"]
    typo = api.post("{ persons(first: 1) { edges { node { nam } } } }", api.token("developer")).json()
    assert codes(typo) == ["GRAPHQL_VALIDATION_FAILED"]
    assert not re.search(r"did you mean", json.dumps(typo), re.IGNORECASE)
    plain = api.gql("{ __typename persons(first: 1) { __typename } }", api.token("developer"))
    assert codes(plain) == [] and plain["data"]["__typename"] == "Query"


def test_suggestions_stay_in_dev_mode(dev_api: Api) -> None:
    typo = dev_api.post("{ persons(first: 1) { edges { node { nam } } } }", dev_api.token("developer")).json()
    assert re.search(r"did you mean", json.dumps(typo), re.IGNORECASE)


def test_introspection_setting_overrides_the_mode(make_api: Callable[..., Api]) -> None:
    on = make_api(introspection=True)
    assert codes(on.gql(get_introspection_query(), on.token("developer"))) == []
    off = make_api(dev_mode=True, introspection=False)
    assert codes(off.post(get_introspection_query(), off.token("developer")).json()) == ["INTROSPECTION_DISABLED"]


def test_healthz_needs_no_token_and_is_quick(api: Api) -> None:
    r = CLIENT.get(api.base + "/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


# --- logs -----------------------------------------------------------------------------------------------
def test_client_errors_log_at_info_without_traceback(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    """A fuzzing run once filled 36 MB of log with tracebacks of bad cursors."""
    import logging

    with caplog.at_level(logging.INFO):
        body = api.gql('{ persons(first: 1, after: "bad") { totalCount } }', api.token("developer"))
        assert codes(body) == ["INVALID_CURSOR"]
        api.post("{ persons(first: 1) { nam } }", api.token("developer"))
    mine = [r for r in caplog.records if r.name.startswith(("gateway", "strawberry"))]
    assert not [r for r in mine if r.levelno >= logging.ERROR or r.exc_info]
    assert any(getattr(r, "code", None) == "INVALID_CURSOR" and r.levelno == logging.INFO for r in mine)


def test_each_denied_field_is_logged_at_warning(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    with caplog.at_level(logging.INFO):
        api.gql("{ persons(first: 1) { edges { node { name health { familyDoctor } } } } }",
                api.token("committee_worker", WORKER, user="w-log"))
    denied = [r for r in caplog.records if r.levelno == logging.WARNING and getattr(r, "coordinate", None)]
    assert denied and all(getattr(r, "user", None) == "w-log" for r in denied)
