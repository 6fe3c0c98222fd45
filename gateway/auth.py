"""Bearer JWT -> Principal (verification in gateway.tokens); ``issue`` mints demo/dev HS256 tokens."""
from __future__ import annotations

import time
from collections.abc import Sequence

import jwt

from common.errors import AuthenticationError, BadRequestError, InvalidTokenError, SettingsError
from common.jurisdiction import validate_scope
from gateway.settings import Settings
from gateway.tokens import verify
from resolvers.context import Principal


def issue(settings: Settings, user: str, roles: Sequence[str], jurisdiction: str, purpose: str | None = None,
          ttl_s: int = 8 * 3600) -> str:
    if not settings.jwt_secret:
        raise SettingsError("jwt_secret is empty, so HS256 is off: tokens come from the identity provider "
                            "behind jwt_jwks", key="jwt_secret")
    if not 0 < ttl_s <= settings.jwt_max_lifetime_s:
        # the gateway would refuse such a token anyway (lifetime_exceeded): say so before minting it
        raise BadRequestError(f"the token lifetime must be 1..{settings.jwt_max_lifetime_s} s "
                              f"(jwt_max_lifetime_s), not {ttl_s}", argument="ttl")
    now = int(time.time())
    claims: dict[str, object] = {"sub": user, "roles": list(roles), "jurisdiction": validate_scope(jurisdiction),
                                 "iss": settings.jwt_issuer, "aud": settings.jwt_audience, "iat": now,
                                 "exp": now + ttl_s}
    if purpose:
        claims["purpose"] = purpose
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


async def authenticate(settings: Settings, header: str | None, purpose_header: str | None) -> Principal:
    if not header:
        raise AuthenticationError("missing Authorization header: send `Authorization: Bearer <JWT>` "
                                  "(get one with `gateway token`)")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("the Authorization header must be `Bearer <JWT>`")
    claims = await verify(settings, token.strip())
    roles = claims.get("roles")
    jur = claims.get("jurisdiction")
    if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
        raise InvalidTokenError("the token carries no roles", reason="roles")
    if not isinstance(jur, str):
        raise InvalidTokenError("the token carries no jurisdiction", reason="jurisdiction")
    try:
        validate_scope(jur)
    except BadRequestError:
        raise InvalidTokenError("the token's jurisdiction is not a valid code", reason="jurisdiction") from None
    purpose = claims.get("purpose")
    if purpose_header:
        if purpose and purpose != purpose_header:
            raise BadRequestError("X-Purpose differs from the purpose the token was issued for", argument="X-Purpose")
        purpose = purpose_header
    return Principal(str(claims["sub"]), tuple(roles), jur, purpose if isinstance(purpose, str) else None)
