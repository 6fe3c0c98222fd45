"""Opaque global ids: deterministic authenticated encryption of (type, canonical key).

SIV construction with HMAC-SHA256 as the PRF: tag = HMAC(k1, type|key)[:12], the key is
XORed with a keystream derived from HMAC(k2, tag), and the id is base64url(tag|ct).
The same entity always gets the same id, ids reveal nothing about the key (an ID number
never appears in an id), cannot be forged, and decode without a lookup table.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac

from common.errors import NotFoundError

TAG = 12
CACHED_IDS = 65536  # ids kept per codec (an id costs ~10 us, a hit ~0.2 us; ~20 MB at most)


class IdCodec:
    def __init__(self, secret: bytes) -> None:
        self.k1 = hmac.new(secret, b"gateway-id-mac", hashlib.sha256).digest()
        self.k2 = hmac.new(secret, b"gateway-id-enc", hashlib.sha256).digest()
        self._mac1 = hmac.new(self.k1, digestmod=hashlib.sha256)  # keyed once; copied per use
        self._mac2 = hmac.new(self.k2, digestmod=hashlib.sha256)
        self.encode = functools.lru_cache(maxsize=CACHED_IDS)(self._encode)

    def _stream(self, tag: bytes, n: int) -> bytes:
        out = b""
        i = 0
        while len(out) < n:
            m = self._mac2.copy()
            m.update(tag + i.to_bytes(4, "big"))
            out += m.digest()
            i += 1
        return out[:n]

    def _encode(self, type_name: str, key: str) -> str:
        """The id of (type, key); ``encode`` is this behind a bounded cache."""
        pt = f"{type_name}:{key}".encode()
        m = self._mac1.copy()
        m.update(pt)
        tag = m.digest()[:TAG]
        ct = bytes(a ^ b for a, b in zip(pt, self._stream(tag, len(pt)), strict=True))
        return base64.urlsafe_b64encode(tag + ct).rstrip(b"=").decode()

    def decode(self, gid: str) -> tuple[str, str]:
        """(type, key); any malformed or forged id is NOT_FOUND, like an id that does not exist."""
        try:
            raw = base64.urlsafe_b64decode(gid + "=" * (-len(gid) % 4))
        except (ValueError, TypeError):
            raise NotFoundError("no such object") from None
        if len(raw) <= TAG or len(raw) > 256:
            raise NotFoundError("no such object")
        tag, ct = raw[:TAG], raw[TAG:]
        pt = bytes(a ^ b for a, b in zip(ct, self._stream(tag, len(ct)), strict=True))
        if not hmac.compare_digest(hmac.new(self.k1, pt, hashlib.sha256).digest()[:TAG], tag):
            raise NotFoundError("no such object")
        type_name, _, key = pt.decode("utf-8", "replace").partition(":")
        return type_name, key
