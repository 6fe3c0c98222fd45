"""Malformed requests get a clear error with a stable code, never a 500 or a leak of internals.

Covers the edge (body, JSON shape), the parser and its limits (depth, aliases, tokens),
argument checks in the resolvers (page size, cursor, jurisdiction codes, opaque ids),
and what a response must never contain.
"""
from __future__ import annotations

import base64
import re
from typing import Any

import httpx
import orjson
import pytest

from resolvers.ids import IdCodec
from tests.helpers import Api, codes

PERSONS = "{ persons(first: 2) { totalCount edges { node { id gender } } } }"
LEAKS = ("Traceback", "traceback", "sqlite", "SELECT", "127.0.0.1", "localhost", "/work/", "site-packages", ".py\"",
         ".py:", "File \"")


def assert_clean(r: httpx.Response) -> None:
    """No internals in a response: no stack trace, SQL, host or file path."""
    assert r.status_code != 500, r.text
    text = r.text
    for bad in LEAKS:
        assert bad not in text, (bad, text[:2000])
    assert not re.search(r"(?<![\w.])/(?:tmp|home|usr|var|opt|etc)/", text), text[:2000]


def only_code(r: httpx.Response) -> str:
    body = r.json()
    cs = codes(body)
    assert len(cs) == 1, body
    return cs[0]


@pytest.fixture(scope="module")
def dev(api: Api) -> str:
    return api.token("developer")


# --- the request body -------------------------------------------------------------
@pytest.mark.parametrize("raw", [
    b"not json at all",
    b"{\"query\": ",
    b"",
    b"\xff\xfe\x00garbage",
], ids=["text", "truncated", "empty", "binary"])
def test_non_json_body_is_bad_user_input(api: Api, dev: str, raw: bytes) -> None:
    r = api.post("", dev, raw=raw)
    assert r.status_code == 400
    assert only_code(r) == "BAD_USER_INPUT"
    assert_clean(r)


@pytest.mark.parametrize("body", [
    [{"query": PERSONS}],
    "{ persons { totalCount } }",
    42,
    None,
    {"variables": {}},
    {"query": 5},
    {"query": ["{ persons { totalCount } }"]},
    {"query": None},
    {"query": PERSONS, "variables": [1, 2]},
    {"query": PERSONS, "variables": "first=2"},
    {"query": PERSONS, "variables": 3},
    {"query": PERSONS, "operationName": 7},
    {"query": PERSONS, "operationName": ["a"]},
    {"query": PERSONS, "operationName": {"x": 1}},
], ids=["array", "string", "number", "null", "no-query", "query-int", "query-list", "query-null", "vars-list",
        "vars-string", "vars-int", "op-int", "op-list", "op-object"])
def test_malformed_body_shape_is_bad_user_input(api: Api, dev: str, body: Any) -> None:
    r = api.post("", dev, raw=orjson.dumps(body))
    assert r.status_code == 400, r.text
    assert only_code(r) == "BAD_USER_INPUT"
    assert "data" not in r.json() or r.json()["data"] is None
    assert_clean(r)


def test_null_variables_and_operation_name_are_accepted(api: Api, dev: str) -> None:
    r = api.post("", dev, raw=orjson.dumps({"query": PERSONS, "variables": None, "operationName": None}))
    assert r.status_code == 200, r.text
    assert codes(r.json()) == []
    assert r.json()["data"]["persons"]["totalCount"] > 0


# --- parsing and validation ----------------------------------------------------------
@pytest.mark.parametrize("query", [
    "{ persons(first: 2) { totalCount }",
    "{ persons(first: ) { totalCount } }",
    "query {",
    "}{",
    "{ persons(first: 2) { totalCount } } garbage",
    "\"unterminated",
    "",
], ids=["unclosed", "missing-value", "open", "reversed", "trailing", "string", "empty"])
def test_syntax_error_is_parse_failed(api: Api, dev: str, query: str) -> None:
    r = api.post(query, dev)
    assert r.status_code == 400, r.text
    assert only_code(r) == "GRAPHQL_PARSE_FAILED"
    assert_clean(r)


@pytest.mark.parametrize("query", [
    "{ persons(first: 2) { totalCount edges { node { id shoeSize } } } }",
    "{ people { totalCount } }",
    "{ persons(first: 2, sortBy: NAME) { totalCount } }",
    "{ persons(first: 2, filter: {nickname: \"x\"}) { totalCount } }",
    "{ persons(first: 2) }",
    "{ persons(first: 2) { totalCount { value } } }",
    "{ persons(first: 2, filter: {gender: OTHER}) { totalCount } }",
    "{ persons(first: \"two\") { totalCount } }",
    "mutation { deletePerson(id: \"x\") }",
], ids=["unknown-field", "unknown-root", "unknown-arg", "unknown-filter-key", "missing-selection",
        "selection-on-scalar", "bad-enum", "string-for-int", "no-mutations"])
def test_invalid_document_is_validation_failed(api: Api, dev: str, query: str) -> None:
    r = api.post(query, dev)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["data"] is None
    assert codes(body) and set(codes(body)) == {"GRAPHQL_VALIDATION_FAILED"}, body
    assert_clean(r)


@pytest.mark.parametrize(("query", "variables"), [
    ("query($n: Int) { persons(first: $n) { totalCount } }", {"n": "abc"}),
    ("query($n: Int) { persons(first: $n) { totalCount } }", {"n": 2.5}),
    ("query($n: Int) { persons(first: $n) { totalCount } }", {"n": 2 ** 40}),
    ("query($n: Int!) { persons(first: $n) { totalCount } }", {}),
    ("query($f: PersonFilter) { persons(first: 2, filter: $f) { totalCount } }", {"f": {"gender": "X"}}),
    ("query($f: PersonFilter) { persons(first: 2, filter: $f) { totalCount } }", {"f": {"nickname": "x"}}),
    ("query($f: PersonFilter) { persons(first: 2, filter: $f) { totalCount } }", {"f": "committee"}),
    ("query($id: ID!) { node(id: $id) { id } }", {"id": {"nested": True}}),
    ("query($n: Int) { persons(first: $m) { totalCount } }", {"n": 1}),
    ("query($n: String) { persons(first: $n) { totalCount } }", {"n": "2"}),
], ids=["string", "float", "int-overflow", "missing-required", "bad-enum", "unknown-input-key", "scalar-for-object",
        "object-for-id", "undeclared", "type-mismatch"])
def test_bad_variables_have_a_stable_code(api: Api, dev: str, query: str, variables: dict[str, Any]) -> None:
    r = api.post(query, dev, variables)
    assert r.status_code in (200, 400), r.text
    body = r.json()
    assert body.get("data") is None, body
    assert codes(body) and set(codes(body)) <= {"GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT"}, body
    assert_clean(r)


@pytest.mark.parametrize("body", [
    {"query": "query A { persons(first: 1) { totalCount } }", "operationName": "B"},
    {"query": "{ persons(first: 1) { totalCount } }", "operationName": "A"},
    {"query": "query A { persons(first: 1) { totalCount } } query B { committees(first: 1) { totalCount } }"},
    {"query": "fragment F on Person { id }"},
], ids=["unknown-name", "name-on-anonymous", "ambiguous", "no-operation"])
def test_unrunnable_operation_is_bad_user_input(api: Api, dev: str, body: dict[str, Any]) -> None:
    r = api.post("", dev, raw=orjson.dumps(body))
    assert r.status_code == 400, r.text
    assert only_code(r) == "BAD_USER_INPUT"
    assert r.json().get("data") is None
    assert_clean(r)


def test_operation_name_selects_the_operation(api: Api, dev: str) -> None:
    doc = "query A { persons(first: 1) { totalCount } } query B { committees(first: 1) { totalCount } }"
    for name, root in (("A", "persons"), ("B", "committees")):
        r = api.post("", dev, raw=orjson.dumps({"query": doc, "operationName": name}))
        assert r.status_code == 200, r.text
        assert codes(r.json()) == []
        assert list(r.json()["data"]) == [root]


# --- limits ----------------------------------------------------------------------------
def nested(levels: int) -> str:
    """A document ``levels`` fields deep: persons > edges > node > house > residents > house > ..."""
    inner = "id"
    chain = ["persons(first: 1)", "edges", "node"]
    while len(chain) < levels:
        chain.append("house" if chain[-1] in ("node", "residents") else "residents")
    for f in reversed(chain):
        inner = f"{f} {{ {inner} }}"
    return "{ " + inner + " }"


def test_depth_at_the_limit_is_accepted(api: Api, dev: str) -> None:
    r = api.post(nested(11), dev)  # 11 object levels + the leaf = 12
    assert r.status_code == 200, r.text
    assert "QUERY_TOO_COMPLEX" not in codes(r.json())


@pytest.mark.parametrize("levels", [13, 30, 200])
def test_depth_over_the_limit_is_too_complex(api: Api, dev: str, levels: int) -> None:
    r = api.post(nested(levels), dev)
    assert r.status_code == 400, r.text
    assert only_code(r) == "QUERY_TOO_COMPLEX"
    assert_clean(r)


def test_depth_through_fragments_counts(api: Api, dev: str) -> None:
    frags = "".join(f"fragment F{i} on Person {{ house {{ residents {{ ...F{i + 1} }} }} }} " for i in range(8))
    doc = "{ persons(first: 1) { edges { node { ...F0 } } } } " + frags + "fragment F8 on Person { id }"
    r = api.post(doc, dev)
    assert r.status_code == 400, r.text
    assert only_code(r) == "QUERY_TOO_COMPLEX"


def test_fragment_cycle_is_rejected_not_a_hang(api: Api, dev: str) -> None:
    doc = ("{ persons(first: 1) { edges { node { ...A } } } } "
           "fragment A on Person { house { residents { ...B } } } fragment B on Person { house { residents { ...A } } }")
    r = api.post(doc, dev)
    assert r.status_code in (200, 400), r.text
    assert r.json().get("data") is None
    assert set(codes(r.json())) <= {"QUERY_TOO_COMPLEX", "GRAPHQL_VALIDATION_FAILED"}, r.text


def aliased(n: int) -> str:
    return "{ " + " ".join(f"a{i}: committees(first: 1) {{ totalCount }}" for i in range(n)) + " }"


def test_aliases_at_the_limit_are_accepted(api: Api, dev: str) -> None:
    r = api.post(aliased(64), dev)
    assert r.status_code == 200, r.text
    assert codes(r.json()) == []
    assert len(r.json()["data"]) == 64


@pytest.mark.parametrize("n", [65, 500])
def test_aliases_over_the_limit_are_too_complex(api: Api, dev: str, n: int) -> None:
    r = api.post(aliased(n), dev)
    assert r.status_code == 400, r.text
    assert only_code(r) == "QUERY_TOO_COMPLEX"


def test_nested_aliases_count_too(api: Api, dev: str) -> None:
    leaves = " ".join(f"g{i}: gender" for i in range(70))
    r = api.post("{ persons(first: 1) { edges { node { " + leaves + " } } } }", dev)
    assert r.status_code == 400, r.text
    assert only_code(r) == "QUERY_TOO_COMPLEX"


@pytest.mark.parametrize("doc", [
    "{ persons(first: 1) { totalCount " + "totalCount " * 6000 + "} }",
    "{ persons(first: 1, filter: {committee: \"310107005001\"}) { totalCount } }" + " # x" * 10 + "\n" + "{}" * 4000,
], ids=["fields", "braces"])
def test_huge_token_count_is_rejected(api: Api, dev: str, doc: str) -> None:
    r = api.post(doc, dev)
    assert r.status_code == 400, r.text
    assert only_code(r) in ("QUERY_TOO_COMPLEX", "GRAPHQL_PARSE_FAILED")
    assert_clean(r)


def test_token_limit_is_a_complexity_limit(api: Api, dev: str) -> None:
    """The token cap is a limit like depth and aliases, not a syntax error: the document is valid GraphQL."""
    r = api.post("{ persons(first: 1) { totalCount " + "totalCount " * 6000 + "} }", dev)
    assert r.status_code == 400
    assert only_code(r) == "QUERY_TOO_COMPLEX"


# --- arguments -------------------------------------------------------------------------
@pytest.mark.parametrize("first", [1001, 5000, 2 ** 31 - 1, -1, -1000])
@pytest.mark.parametrize("root", ["persons", "houses", "committees", "buildings", "events"])
def test_page_size_out_of_range(api: Api, dev: str, root: str, first: int) -> None:
    r = api.post(f"{{ {root}(first: {first}) {{ totalCount }} }}", dev)
    assert r.status_code == 200, r.text
    body = r.json()
    assert codes(body) == ["PAGE_SIZE_EXCEEDED"]
    assert body["data"] == {root: None}
    assert body["errors"][0]["path"] == [root]


def test_page_size_bounds_are_accepted(api: Api, dev: str) -> None:
    body = api.gql("{ a: persons(first: 0) { totalCount edges { cursor } } b: persons(first: 1000) { edges { cursor } } }",
                   dev)
    assert codes(body) == []
    assert body["data"]["a"]["edges"] == []
    assert body["data"]["a"]["totalCount"] > 0
    assert len(body["data"]["b"]["edges"]) == 1000


def b64(s: bytes) -> str:
    return base64.urlsafe_b64encode(s).decode().rstrip("=")


@pytest.mark.parametrize("cursor", [
    "garbage", "", "!!!!", "bzow==extra", b64(b"o:-1"), b64(b"o:abc"), b64(b"x:5"), b64(b"o:"), b64(b"o:1e3"),
    b64(b"o:" + b"9" * 40), b64(b"\xff\xfe\xfd"), b64(b"o:5:6"), b64(b"o: 5"), "a" * 5000,
], ids=["garbage", "empty", "punct", "padding", "negative", "word", "tag", "nothing", "exp", "huge", "binary",
        "colons", "space", "long"])
def test_malformed_cursor_is_invalid_cursor(api: Api, dev: str, cursor: str) -> None:
    r = api.post("query($a: String) { persons(first: 2, after: $a) { totalCount } }", dev, {"a": cursor})
    assert r.status_code == 200, r.text
    body = r.json()
    assert codes(body) == ["INVALID_CURSOR"], body
    assert body["data"] == {"persons": None}
    assert_clean(r)


def test_cursor_far_beyond_the_end_is_an_empty_page(api: Api, dev: str) -> None:
    body = api.gql("query($a: String) { persons(first: 2, after: $a) { edges { cursor } pageInfo { hasNextPage } } }",
                   dev, {"a": b64(b"o:999999")})
    assert codes(body) == []
    assert body["data"]["persons"]["edges"] == []
    assert body["data"]["persons"]["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize("code", ["12", "3101070050011", "31010700500a", "３１０１０７００５００１", "", " 310107005001",
                                  "310107005001 ", "-31010700500", "3" * 40, "310107005001' OR 1=1 --"])
@pytest.mark.parametrize("attr", ["committee", "compound", "building"])
def test_malformed_place_code_is_invalid_jurisdiction(api: Api, dev: str, attr: str, code: str) -> None:
    r = api.post("query($f: PersonFilter) { persons(first: 2, filter: $f) { totalCount } }", dev,
                 {"f": {attr: code}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert codes(body) == ["INVALID_JURISDICTION"], body
    assert body["data"] == {"persons": None}
    assert_clean(r)


@pytest.mark.parametrize("root,ftype", [("houses", "HouseFilter"), ("shops", "ShopFilter"),
                                        ("committees", "PlaceFilter"), ("events", "EventFilter")])
def test_malformed_place_code_on_other_roots(api: Api, root: str, ftype: str) -> None:
    tok = api.token("subdistrict_officer")
    r = api.post(f"query($f: {ftype}) {{ {root}(first: 2, filter: $f) {{ totalCount }} }}", tok,
                 {"f": {"committee": "31010700500x"}})
    assert r.status_code == 200, r.text
    assert codes(r.json()) == ["INVALID_JURISDICTION"], r.text
    assert r.json()["data"] == {root: None}


def test_malformed_place_code_in_stats(api: Api) -> None:
    tok = api.token("district_analyst", "310107")
    r = api.post("{ stats(subject: PERSONS, groupBy: [COMMITTEE], filter: {committee: \"1234\"}) { total } }", tok)
    assert r.status_code == 200, r.text
    assert codes(r.json()) == ["INVALID_JURISDICTION"], r.text
    assert r.json()["data"] == {"stats": None}


# --- opaque ids ---------------------------------------------------------------------------
def first_person_id(api: Api, tok: str) -> str:
    body = api.gql("{ persons(first: 1) { edges { node { id } } } }", tok)
    return str(body["data"]["persons"]["edges"][0]["node"]["id"])


def forged_ids(api: Api, real: str) -> list[str]:
    other = IdCodec(b"an-attacker-guessed-this-secret")
    raw = bytearray(base64.urlsafe_b64decode(real + "=" * (-len(real) % 4)))
    flipped = bytearray(raw)
    flipped[-1] ^= 0x01
    tag_flipped = bytearray(raw)
    tag_flipped[0] ^= 0x80
    return [
        other.encode("Person", "310107195001010011"),  # a well-formed id under another key
        b64(bytes(flipped)),  # one bit of the ciphertext changed
        b64(bytes(tag_flipped)),  # one bit of the tag changed
        real[:-4],  # truncated
        real + "AAAA",  # extended
        b64(b"Person:310107195001010011"),  # the plain key, base64'd
        b64(b"\x00" * 12 + b"Person:1"),
        b64(b"x" * 400),
    ]


@pytest.mark.parametrize("gid", ["garbage", "", "!!!", "===", "a", "Person:1", "\u4e2d\u6587", "A" * 5000])
@pytest.mark.parametrize("root", ["node", "person", "shop"])
def test_garbage_id_is_not_found(api: Api, root: str, gid: str) -> None:
    tok = api.token("subdistrict_officer")
    r = api.post(f"query($id: ID!) {{ {root}(id: $id) {{ id }} }}", tok, {"id": gid})
    assert r.status_code == 200, r.text
    body = r.json()
    assert codes(body) == ["NOT_FOUND"], body
    assert body["data"] == {root: None}
    assert body["errors"][0]["path"] == [root]
    assert_clean(r)


def test_forged_ids_are_not_found(api: Api) -> None:
    tok = api.token("subdistrict_officer")
    real = first_person_id(api, tok)
    ok = api.gql("query($id: ID!) { node(id: $id) { id } }", tok, {"id": real})
    assert ok["data"]["node"]["id"] == real
    for gid in forged_ids(api, real):
        body = api.gql("query($id: ID!) { node(id: $id) { id } person(id: $id) { id } }", tok, {"id": gid})
        assert sorted(codes(body)) == ["NOT_FOUND", "NOT_FOUND"], (gid, body)
        assert body["data"] == {"node": None, "person": None}


def test_not_found_leaves_sibling_fields_intact(api: Api) -> None:
    tok = api.token("subdistrict_officer")
    body = api.gql("{ node(id: \"garbage\") { id } committees(first: 1) { totalCount } }", tok)
    assert codes(body) == ["NOT_FOUND"]
    assert body["data"]["node"] is None
    assert body["data"]["committees"]["totalCount"] > 0


# --- no leaks, anywhere ---------------------------------------------------------------------
def test_error_responses_never_leak_internals(api: Api, dev: str) -> None:
    """A sweep of bad requests: every response is clean, and every error carries a code."""
    requests: list[tuple[str, dict[str, Any] | None, bytes | None]] = [
        ("{ persons(first: 2, filter: {committee: \"310107005001'; DROP TABLE persons; --\"}) { totalCount } }",
         None, None),
        ("{ persons(first: 2, filter: {ageMin: 200, ageMax: -5}) { totalCount } }", None, None),
        ("{ persons(first: 2, filter: {ageMin: 2147483647}) { totalCount edges { node { id } } } }", None, None),
        ("{ persons(first: 2, filter: {livingAlone: false}) { totalCount } }", None, None),
        ("{ persons(first: 2, filter: {building: \"999999999999999999\"}) { totalCount } }", None, None),
        ("{ houses(first: 2, filter: {propertyType: COMMERCIAL}) { totalCount edges { node { water { meterNumber } } } } }",
         None, None),
        ("", None, b"{\"query\": \"{ __schema { types { name } } }\"}"),
        ("", None, b"[" * 10000 + b"]" * 10000),
        ("", None, b"{\"query\": \"" + b"\\u0000" * 100 + b"\"}"),
    ]
    for q, v, raw in requests:
        r = api.post(q, dev, v, raw=raw)
        assert_clean(r)
        body = r.json()
        for e in body.get("errors") or []:
            assert (e.get("extensions") or {}).get("code"), body
            assert "stack" not in (e.get("extensions") or {}), body


def test_unauthenticated_and_bad_token_have_codes(api: Api) -> None:
    r = api.post(PERSONS, None)
    assert r.status_code == 401
    assert only_code(r) == "UNAUTHENTICATED"
    for header in ("Bearer", "Bearer not.a.jwt", "Basic dXNlcjpwYXNz", "Bearer " + "x" * 5000):
        r = api.post(PERSONS, None, headers={"Authorization": header})
        assert r.status_code == 401, (header, r.text)
        assert only_code(r) in ("UNAUTHENTICATED", "INVALID_TOKEN")
        assert_clean(r)


def test_bad_input_is_checked_after_authentication(api: Api) -> None:
    """An anonymous caller learns nothing about the document: 401 before any parsing."""
    r = api.post("{ this is not graphql", None)
    assert r.status_code == 401
    assert only_code(r) == "UNAUTHENTICATED"


@pytest.mark.parametrize("bounds", ["ageMin: 201", "ageMax: -5", "ageMin: 2147483647"])
def test_age_bounds_out_of_range_are_bad_user_input(api: Api, dev: str, bounds: str) -> None:
    body = api.gql(f"{{ persons(first: 2, filter: {{{bounds}}}) {{ totalCount }} }}", dev)
    assert codes(body) == ["BAD_USER_INPUT"] and body["data"]["persons"] is None
