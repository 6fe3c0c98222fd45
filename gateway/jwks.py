"""The public keys of asymmetric tokens: a JWKS read from a file or fetched from an http(s) URL.

Keys are cached and read again every ``refresh_s``; a token naming an unknown ``kid`` triggers
an immediate read, at most once per ``cooldown_s``, so a key is accepted as soon as the issuer
publishes it and refused once it is removed, while a flood of made-up kids costs one fetch per
cooldown. A failed read (network, status, bad JSON, no usable key) keeps the cached keys.

PyJWT's PyJWKClient does not fit: it fetches with blocking urllib on the request path, refetches
on every unknown kid without a rate limit, and reads no files. Only its PyJWK parser is used.

Reads run in a worker thread (``asyncio.to_thread``) under a threading lock: the event loop never
blocks, and one source may serve gateways running on different event loops (tests do that).
"""
from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt import PyJWK, PyJWKError, PyJWTError

log = logging.getLogger("gateway.jwks")

ALGORITHMS = ("RS256", "ES256")
COOLDOWN_S = 10.0  # shortest interval between two reads triggered by unknown kids or failures
FETCH_TIMEOUT_S = 5.0
MAX_JWKS_BYTES = 1024 * 1024
MIN_RSA_BITS = 2048


class JwksReadError(Exception):
    """One read of the JWKS failed; the cached keys stay."""


def parse_jwks(raw: bytes) -> dict[str, PyJWK]:
    """Usable verification keys by kid; keys we cannot or must not use are skipped, with a log line."""
    try:
        doc = json.loads(raw)
    except ValueError as e:
        raise JwksReadError(f"not JSON: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise JwksReadError('not a JWKS: expected {"keys": [...]}')
    keys: dict[str, PyJWK] = {}
    for entry in doc["keys"]:
        why = _unusable(entry)
        if why is None:
            try:
                jwk = PyJWK(entry)
            except (PyJWKError, PyJWTError) as e:
                why = f"cannot be loaded ({type(e).__name__})"
            else:
                why = _unusable_key(jwk)
                if why is None:
                    keys.setdefault(entry["kid"], jwk)
                    continue
        log.warning("JWKS key %r skipped: %s", entry.get("kid") if isinstance(entry, dict) else None, why)
    if not keys:
        # an empty set is far more often a broken publication than a deliberate revocation of
        # every key; treating it as a failed read keeps the gateway serving on the cached keys
        raise JwksReadError("no usable RS256/ES256 signing key")
    return keys


def _unusable(entry: Any) -> str | None:
    if not isinstance(entry, dict):
        return "not an object"
    if not isinstance(entry.get("kid"), str) or not entry["kid"]:
        return "no kid"  # tokens select keys by kid; a key without one could never be chosen safely
    if entry.get("use") not in (None, "sig"):
        return f"use is {entry.get('use')!r}, not 'sig'"
    if entry.get("kty") not in ("RSA", "EC"):
        return f"key type {entry.get('kty')!r} is not RSA or EC"
    if "d" in entry:
        return "contains private key material"
    if entry.get("kty") == "EC" and entry.get("crv") != "P-256":
        return f"curve {entry.get('crv')!r} is not P-256"
    return None


def _unusable_key(jwk: PyJWK) -> str | None:
    if jwk.algorithm_name not in ALGORITHMS:
        return f"algorithm {jwk.algorithm_name} is not one of {', '.join(ALGORITHMS)}"
    if isinstance(jwk.key, rsa.RSAPublicKey) and jwk.key.key_size < MIN_RSA_BITS:
        return f"RSA key of {jwk.key.key_size} bits (at least {MIN_RSA_BITS})"
    return None


class JwksSource:
    def __init__(self, where: str, refresh_s: float, cooldown_s: float | None = None) -> None:
        self.where = where
        self.is_url = where.startswith(("http://", "https://"))
        self.refresh_s = refresh_s
        # a refresh interval below the cooldown is a deliberate choice: honour it for unknown kids too
        self.cooldown_s = min(COOLDOWN_S, refresh_s) if cooldown_s is None else cooldown_s
        self._keys: dict[str, PyJWK] = {}
        self._loaded_at: float | None = None  # monotonic time of the last successful read
        self._tried_at: float | None = None  # ... of the last attempt, successful or not
        self._lock = threading.Lock()

    async def key(self, kid: str) -> PyJWK | None:
        """The key named ``kid``, reading the JWKS first when it is stale or does not know the kid."""
        if self._wants_read(kid, time.monotonic()):
            await asyncio.to_thread(self._read_if_needed, kid)
        return self._keys.get(kid)

    def _wants_read(self, kid: str, now: float) -> bool:
        stale = self._loaded_at is None or now - self._loaded_at >= self.refresh_s
        if not stale and kid in self._keys:
            return False
        return self._tried_at is None or now - self._tried_at >= self.cooldown_s

    def _read_if_needed(self, kid: str) -> None:
        with self._lock:
            now = time.monotonic()
            if not self._wants_read(kid, now):  # another request read it while we waited
                return
            self._tried_at = now
            try:
                keys = parse_jwks(self._fetch() if self.is_url else self._read_file())
            except JwksReadError as e:
                log.warning("JWKS %s: %s; keeping %d cached key(s)", self.where, e, len(self._keys))
                return
            self._keys, self._loaded_at = keys, now

    def _read_file(self) -> bytes:
        try:
            with Path(self.where).open("rb") as f:
                raw = f.read(MAX_JWKS_BYTES + 1)
        except OSError as e:
            raise JwksReadError(f"cannot read: {e.strerror or e}") from None
        if len(raw) > MAX_JWKS_BYTES:
            raise JwksReadError(f"larger than {MAX_JWKS_BYTES} bytes")
        return raw

    def _fetch(self) -> bytes:
        try:
            with httpx.Client(timeout=FETCH_TIMEOUT_S, follow_redirects=False) as client, \
                    client.stream("GET", self.where, headers={"Accept": "application/json"}) as r:
                if r.status_code != 200:
                    raise JwksReadError(f"HTTP {r.status_code}")
                raw = bytearray()
                for chunk in r.iter_bytes():
                    raw += chunk
                    if len(raw) > MAX_JWKS_BYTES:
                        raise JwksReadError(f"larger than {MAX_JWKS_BYTES} bytes")
                return bytes(raw)
        except httpx.HTTPError as e:
            raise JwksReadError(f"fetch failed ({type(e).__name__})") from None


_sources: dict[tuple[str, float], JwksSource] = {}
_sources_lock = threading.Lock()


def source_for(where: str, refresh_s: float) -> JwksSource:
    """One cache per JWKS location and refresh interval, shared by every gateway in the process."""
    with _sources_lock:
        src = _sources.get((where, refresh_s))
        if src is None:
            src = _sources[(where, refresh_s)] = JwksSource(where, refresh_s)
        return src
