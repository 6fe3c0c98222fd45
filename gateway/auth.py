"""Bearer JWT -> Principal. Tokens are HS256, with issuer, audience and expiry checked."""
from __future__ import annotations

import time
from collections.abc import Sequence

import jwt

from common.errors import AuthenticationError, BadRequestError, InvalidTokenError
from common.jurisdiction import validate_scope
from gateway.settings import Settings
from resolvers.context import Principal


def issue(settings: Settings, user: str, roles: Sequence[str], jurisdiction: str, purpose: str | None = None,
          ttl_s: int = 8 * 3600) -> str:
    now = int(time.time())
    claims: dict[str, object] = {"sub": user, "roles": list(roles), "jurisdiction": validate_scope(jurisdiction),
                                 "iss": settings.jwt_issuer, "aud": settings.jwt_audience, "iat": now,
                                 "exp": now + ttl_s}
    if purpose:
        claims["purpose"] = purpose
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


def authenticate(settings: Settings, header: str | None, purpose_header: str | None) -> Principal:
    if not header:
        raise AuthenticationError("missing Authorization header: send `Authorization: Bearer <JWT>` "
                                  "(get one with `gateway token`)")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("the Authorization header must be `Bearer <JWT>`")
    try:
        claims = jwt.decode(token.strip(), settings.jwt_secret, algorithms=["HS256"], audience=settings.jwt_audience,
                            issuer=settings.jwt_issuer, options={"require": ["exp", "sub", "iss", "aud"]})
    except jwt.ExpiredSignatureError:
        raise InvalidTokenError("the token has expired", reason="expired") from None
    except jwt.PyJWTError as e:
        raise InvalidTokenError("the token is not valid", reason=type(e).__name__) from None
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
