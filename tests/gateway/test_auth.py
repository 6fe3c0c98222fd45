"""Tokens: HS256 for demo/dev, RS256/ES256 against a JWKS (file or a real HTTP server on loopback),
lifetime rules, and every INVALID_TOKEN reason. Real keys, real JWTs, no mocks."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from common.errors import BadRequestError, GatewayError, InvalidTokenError, SettingsError
from gateway.auth import authenticate, issue
from gateway.cli import main
from gateway.jwks import JwksSource
from gateway.settings import DEMO_SECRET, Settings, load_settings
from gateway.tokens import LEEWAY_S, REASONS, verify
from tests.helpers import SUBDISTRICT, Api, codes

ISS = AUD = "civic-gateway"
PERSONS = "{ persons(first: 1) { edges { node { id } } } }"


# --------------------------------------------------------------------------- keys, tokens, JWKS server
class Key:
    def __init__(self, kid: str, alg: str) -> None:
        self.kid, self.alg = kid, alg
        self.private: Any = (rsa.generate_private_key(public_exponent=65537, key_size=2048) if alg == "RS256"
                             else ec.generate_private_key(ec.SECP256R1()))
        self.public = self.private.public_key()

    def jwk(self) -> dict[str, Any]:
        to_jwk = RSAAlgorithm.to_jwk if self.alg == "RS256" else ECAlgorithm.to_jwk
        return {**to_jwk(self.public, as_dict=True), "kid": self.kid, "use": "sig", "alg": self.alg}

    def pem(self) -> bytes:
        return self.public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign(self, kid: str | None = None, alg: str | None = None, **changes: Any) -> str:
        headers = {"kid": kid or self.kid} if kid != "" else {}
        return jwt.encode(claims(**changes), self.private, algorithm=alg or self.alg, headers=headers)


# generated once: RSA key generation costs tens of milliseconds
KEYS = {name: Key(name, alg) for name, alg in
        [("rsa-a", "RS256"), ("ec-b", "ES256"), ("rsa-c", "RS256"), ("ec-d", "ES256")]}


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    c: dict[str, Any] = {"sub": "alice", "roles": ["developer"], "jurisdiction": SUBDISTRICT, "iss": ISS,
                         "aud": AUD, "iat": now, "exp": now + 600}
    c.update(changes)
    return {k: v for k, v in c.items() if v is not None}


def jwks(*names: str) -> dict[str, Any]:
    return {"keys": [KEYS[n].jwk() for n in names]}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade(header: dict[str, Any], key: bytes | None, **changes: Any) -> str:
    """A token PyJWT refuses to make: alg none, or HS256 keyed with a public key (algorithm confusion)."""
    signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims(**changes)).encode())
    sig = b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest()) if key is not None else ""
    return signing_input + "." + sig


class JwksServer:
    """A real JWKS endpoint on loopback; ``body`` is what it serves next, ``hits`` counts fetches."""

    def __init__(self) -> None:
        self.body: bytes = b""
        self.status = 200
        self.hits = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.hits += 1
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(owner.body)))
                self.end_headers()
                self.wfile.write(owner.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def publish(self, *names: str) -> None:
        self.body, self.status = json.dumps(jwks(*names)).encode(), 200

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[JwksServer]:
    srv = JwksServer()
    yield srv
    srv.stop()


@pytest.fixture
def jwks_file(tmp_path: Path) -> Path:
    p = tmp_path / "jwks.json"
    p.write_text(json.dumps(jwks("rsa-a", "ec-b")), encoding="utf-8")
    return p


def hs256(secret: str = DEMO_SECRET, **changes: Any) -> str:
    return jwt.encode(claims(**changes), secret, algorithm="HS256")


async def reason(settings: Settings, token: str) -> str:
    with pytest.raises(InvalidTokenError) as e:
        await verify(settings, token)
    assert e.value.code == "INVALID_TOKEN"
    r = e.value.details["reason"]
    assert r in REASONS
    return str(r)


# --------------------------------------------------------------------------- every reason
DEMO = load_settings(env={})


@pytest.mark.parametrize(("make", "expected"), [
    (lambda: "abc.def.ghi", "malformed"),
    (lambda: "not-a-jwt", "malformed"),
    (lambda: hs256(sub=42), "malformed"),
    (lambda: hs256(exp="tomorrow"), "malformed"),
    (lambda: handmade({"alg": "none", "typ": "JWT"}, None), "algorithm_not_allowed"),
    (lambda: jwt.encode(claims(), DEMO_SECRET * 2, algorithm="HS512"), "algorithm_not_allowed"),
    (lambda: KEYS["rsa-a"].sign(), "algorithm_not_allowed"),  # no JWKS configured: no asymmetric tokens
    (lambda: hs256("some-other-signing-key-of-sufficient-length"), "bad_signature"),
    (lambda: hs256(iss="evil"), "wrong_issuer"),
    (lambda: hs256(aud="another-service"), "wrong_audience"),
    (lambda: hs256(exp=None), "missing_claim"),
    (lambda: hs256(iat=None), "missing_claim"),
    (lambda: hs256(sub=None), "missing_claim"),
    (lambda: hs256(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600), "expired"),
    (lambda: hs256(iat=int(time.time()) - 700, exp=int(time.time()) - 1), "expired"),
    (lambda: hs256(iat=int(time.time()) + 3600, exp=int(time.time()) + 4000), "not_yet_valid"),
    (lambda: hs256(nbf=int(time.time()) + 3600), "not_yet_valid"),
    (lambda: hs256(exp=int(time.time()) + 12 * 3600 + 60), "lifetime_exceeded"),
    (lambda: hs256(iat=int(time.time()) - 40 * 86400, exp=int(time.time()) + 60), "lifetime_exceeded"),
], ids=["garbage", "one-part", "sub-not-string", "exp-not-number", "alg-none", "hs512", "rs256-without-jwks",
        "wrong-secret", "issuer", "audience", "no-exp", "no-iat", "no-sub", "expired", "just-expired", "iat-future",
        "nbf-future", "too-long", "old-iat-long-exp"])
async def test_hs256_refusal_reasons(make: Callable[[], str], expected: str) -> None:
    assert await reason(DEMO, make()) == expected


async def test_missing_claim_is_named() -> None:
    with pytest.raises(InvalidTokenError) as e:
        await verify(DEMO, hs256(iat=None))
    assert (e.value.details["reason"], e.value.details["claim"]) == ("missing_claim", "iat")


async def test_hs256_within_the_rules_is_accepted() -> None:
    now = int(time.time())
    assert (await verify(DEMO, hs256()))["sub"] == "alice"
    assert (await verify(DEMO, hs256(iat=now + LEEWAY_S - 10, exp=now + 600)))["sub"] == "alice"  # clock skew
    assert (await verify(DEMO, hs256(iat=now, exp=now + 12 * 3600)))["sub"] == "alice"  # exactly the maximum
    assert (await verify(DEMO, hs256(aud=["other", AUD])))["sub"] == "alice"


async def test_max_lifetime_is_a_setting() -> None:
    short = load_settings(env={}, jwt_max_lifetime_s=600)
    now = int(time.time())
    assert await reason(short, hs256(iat=now, exp=now + 601)) == "lifetime_exceeded"
    assert (await verify(short, hs256(iat=now, exp=now + 600)))["sub"] == "alice"


@pytest.mark.parametrize(("header", "expected"), [
    (None, "UNAUTHENTICATED"), ("Basic dXNlcjpwYXNz", "UNAUTHENTICATED"), ("Bearer ", "UNAUTHENTICATED"),
])
async def test_authenticate_needs_a_bearer_header(header: str | None, expected: str) -> None:
    with pytest.raises(GatewayError) as e:
        await authenticate(DEMO, header, None)
    assert e.value.code == expected


@pytest.mark.parametrize(("changes", "expected"), [
    ({"roles": None}, "roles"), ({"roles": []}, "roles"), ({"roles": "developer"}, "roles"), ({"roles": [1]}, "roles"),
    ({"jurisdiction": None}, "jurisdiction"), ({"jurisdiction": "12"}, "jurisdiction"),
    ({"jurisdiction": 310107005}, "jurisdiction"),
])
async def test_authenticate_refuses_tokens_without_roles_or_jurisdiction(changes: dict[str, Any],
                                                                         expected: str) -> None:
    with pytest.raises(InvalidTokenError) as e:
        await authenticate(DEMO, "Bearer " + hs256(**changes), None)
    assert e.value.details["reason"] == expected


async def test_authenticate_builds_the_principal() -> None:
    p = await authenticate(DEMO, "Bearer " + hs256(purpose="service_planning"), None)
    assert (p.user, p.roles, p.jurisdiction, p.purpose) == ("alice", ("developer",), SUBDISTRICT, "service_planning")


def test_reason_vocabulary_is_ours() -> None:
    assert len(set(REASONS)) == len(REASONS)
    assert all(r.islower() and r.replace("_", "").isalpha() for r in REASONS)
    assert not {r for r in REASONS if r.endswith("error")}


# --------------------------------------------------------------------------- asymmetric tokens
@pytest.mark.parametrize("kid", ["rsa-a", "ec-b"])
async def test_jwks_file_rs256_and_es256(jwks_file: Path, kid: str) -> None:
    s = load_settings(env={}, jwt_jwks=str(jwks_file), jwt_secret="")
    c = await verify(s, KEYS[kid].sign())
    assert c["sub"] == "alice"


@pytest.mark.parametrize("kid", ["rsa-a", "ec-b"])
async def test_jwks_url_rs256_and_es256(server: JwksServer, kid: str) -> None:
    server.publish("rsa-a", "ec-b")
    s = load_settings(env={}, jwt_jwks=server.url, jwt_secret="")
    assert (await verify(s, KEYS[kid].sign()))["sub"] == "alice"
    assert (await verify(s, KEYS[kid].sign()))["sub"] == "alice"
    assert server.hits == 1  # cached


async def test_asymmetric_refusal_reasons(jwks_file: Path) -> None:
    s = load_settings(env={}, jwt_jwks=str(jwks_file))
    a = KEYS["rsa-a"]
    assert await reason(s, a.sign(kid="")) == "unknown_key"
    assert await reason(s, a.sign(kid="nobody")) == "unknown_key"
    assert await reason(s, KEYS["rsa-c"].sign(kid="rsa-a")) == "bad_signature"  # right kid, another key
    assert await reason(s, KEYS["ec-d"].sign(kid="ec-b")) == "bad_signature"
    assert await reason(s, KEYS["ec-b"].sign(kid="rsa-a")) == "algorithm_not_allowed"  # ES256 on an RSA key
    assert await reason(s, a.sign(alg="RS512")) == "algorithm_not_allowed"
    assert await reason(s, a.sign(iss="evil")) == "wrong_issuer"
    assert await reason(s, a.sign(aud="elsewhere")) == "wrong_audience"
    assert await reason(s, a.sign(exp=int(time.time()) - 1)) == "expired"
    assert await reason(s, a.sign(exp=int(time.time()) + 13 * 3600)) == "lifetime_exceeded"
    assert await reason(s, a.sign(iat=int(time.time()) + 600, exp=int(time.time()) + 900)) == "not_yet_valid"
    assert await reason(s, a.sign(exp=None)) == "missing_claim"


async def test_algorithm_confusion_hs256_with_the_public_key(jwks_file: Path) -> None:
    """An attacker 'signs' HS256 with the published public key: never verified with a JWKS key."""
    pem = KEYS["rsa-a"].pem()
    forged = handmade({"alg": "HS256", "typ": "JWT", "kid": "rsa-a"}, pem)
    jwks_only = load_settings(env={}, jwt_jwks=str(jwks_file), jwt_secret="")
    assert await reason(jwks_only, forged) == "algorithm_not_allowed"  # HS256 is off
    both = load_settings(env={}, jwt_jwks=str(jwks_file))
    assert await reason(both, forged) == "bad_signature"  # HS256 checks jwt_secret only
    none = handmade({"alg": "none", "typ": "JWT", "kid": "rsa-a"}, None)
    assert await reason(jwks_only, none) == "algorithm_not_allowed"
    assert await reason(jwks_only, hs256()) == "algorithm_not_allowed"


async def test_jwks_rotation_over_http(server: JwksServer) -> None:
    """Key A, then A+B, then B only: B is accepted once published, A until it is removed, then refused."""
    refresh = 0.3
    s = load_settings(env={}, jwt_jwks=server.url, jwt_jwks_refresh_s=refresh, jwt_secret="")
    a, b = KEYS["rsa-a"], KEYS["ec-b"]
    server.publish("rsa-a")
    assert (await verify(s, a.sign()))["sub"] == "alice"
    assert await reason(s, b.sign()) == "unknown_key"
    server.publish("rsa-a", "ec-b")
    await asyncio.sleep(refresh)  # the unknown-kid read is rate-limited to once per min(10 s, refresh)
    assert (await verify(s, b.sign()))["sub"] == "alice"
    assert (await verify(s, a.sign()))["sub"] == "alice"
    server.publish("ec-b")
    await asyncio.sleep(refresh)
    assert await reason(s, a.sign()) == "unknown_key"
    assert (await verify(s, b.sign()))["sub"] == "alice"


async def test_unknown_kid_reads_the_jwks_at_once(server: JwksServer) -> None:
    src = JwksSource(server.url, refresh_s=300, cooldown_s=0)
    server.publish("rsa-a")
    assert await src.key("rsa-a") is not None
    server.publish("rsa-a", "ec-b")
    assert await src.key("ec-b") is not None  # long before the 300 s refresh
    assert server.hits == 2
    assert await src.key("rsa-a") is not None and server.hits == 2  # known keys need no read


async def test_unknown_kids_are_rate_limited(server: JwksServer) -> None:
    src = JwksSource(server.url, refresh_s=300, cooldown_s=60)
    server.publish("rsa-a")
    assert await src.key("rsa-a") is not None
    for i in range(20):
        assert await src.key(f"made-up-{i}") is None
    assert server.hits == 1


@pytest.mark.parametrize("failure", ["status", "not-json", "not-a-jwks", "no-usable-key", "down"])
async def test_a_bad_read_keeps_the_cached_keys(server: JwksServer, failure: str) -> None:
    src = JwksSource(server.url, refresh_s=0.05, cooldown_s=0)
    server.publish("rsa-a")
    assert await src.key("rsa-a") is not None
    if failure == "status":
        server.status = 500
    elif failure == "not-json":
        server.body = b"<html>maintenance</html>"
    elif failure == "not-a-jwks":
        server.body = b'{"keys": {"rsa-a": 1}}'
    elif failure == "no-usable-key":
        server.body = json.dumps({"keys": [{**KEYS["rsa-a"].jwk(), "kty": "oct", "k": "c2VjcmV0"}]}).encode()
    else:
        server.stop()
    await asyncio.sleep(0.06)
    assert await src.key("rsa-a") is not None
    assert server.hits == (2 if failure != "down" else 1)


async def test_unusable_keys_are_skipped(tmp_path: Path) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    entries = [
        KEYS["rsa-a"].jwk(),
        {**RSAAlgorithm.to_jwk(weak, as_dict=True), "kid": "weak"},
        {**ECAlgorithm.to_jwk(p384, as_dict=True), "kid": "p384"},
        {**KEYS["ec-b"].jwk(), "use": "enc"},
        {**KEYS["rsa-c"].jwk(), "kid": None},
        {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
        "junk",
    ]
    f = tmp_path / "jwks.json"
    f.write_text(json.dumps({"keys": entries}), encoding="utf-8")
    src = JwksSource(str(f), refresh_s=300)
    assert await src.key("rsa-a") is not None
    for kid in ("weak", "p384", "ec-b", "hmac"):
        assert await src.key(kid) is None, kid


async def test_gateway_accepts_rs256_over_http(make_api: Callable[..., Api], jwks_file: Path) -> None:
    api = make_api(jwt_jwks=str(jwks_file))
    body = api.gql(PERSONS, KEYS["rsa-a"].sign())
    assert "errors" not in body, body
    r = api.post(PERSONS, KEYS["rsa-c"].sign(kid="rsa-a"))
    assert r.status_code == 401 and codes(r.json()) == ["INVALID_TOKEN"], r.text
    assert r.json()["errors"][0]["extensions"]["reason"] == "bad_signature"
    r = api.post(PERSONS, hs256(exp=int(time.time()) + 86400))
    assert r.status_code == 401 and r.json()["errors"][0]["extensions"]["reason"] == "lifetime_exceeded", r.text


# --------------------------------------------------------------------------- minting (gateway token)
def test_issue_refuses_a_lifetime_over_the_maximum() -> None:
    with pytest.raises(BadRequestError) as e:
        issue(DEMO, "u", ["developer"], SUBDISTRICT, ttl_s=DEMO.jwt_max_lifetime_s + 1)
    assert e.value.code == "BAD_USER_INPUT" and e.value.details["argument"] == "ttl"
    with pytest.raises(BadRequestError):
        issue(DEMO, "u", ["developer"], SUBDISTRICT, ttl_s=0)
    token = issue(DEMO, "u", ["developer"], SUBDISTRICT, ttl_s=DEMO.jwt_max_lifetime_s)
    assert jwt.decode(token, DEMO_SECRET, algorithms=["HS256"], audience=AUD)["sub"] == "u"


def test_issue_needs_an_hs256_key(jwks_file: Path) -> None:
    with pytest.raises(SettingsError) as e:
        issue(load_settings(env={}, jwt_jwks=str(jwks_file), jwt_secret=""), "u", ["developer"], SUBDISTRICT)
    assert e.value.code == "SETTINGS_INVALID" and e.value.details["key"] == "jwt_secret"


def test_token_command_refuses_a_long_ttl(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "--user", "u", "--role", "developer", "--ttl", str(13 * 3600)]) == 2
    out = capsys.readouterr()
    assert out.out.strip() == ""
    assert out.err.startswith("error [BAD_USER_INPUT]:") and "Traceback" not in out.err
