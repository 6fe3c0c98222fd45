"""Verify a bearer JWT: signature, algorithm, issuer, audience and lifetime. Returns its claims.

Two kinds of token are accepted:

* HS256 signed with ``settings.jwt_secret`` (demo/dev and ``gateway token``; off when it is empty);
* RS256 or ES256 signed by a key of the JWKS named by ``settings.jwt_jwks`` and selected by ``kid``.

The algorithm decides the key, and each key verifies only its own algorithm: ``alg: none``, and
an HS256 token "signed" with a published public key, are refused (algorithm confusion).

Every refusal is an InvalidTokenError whose ``details["reason"]`` is one of ``REASONS``, in our
own words (never a PyJWT class name), so clients and tests can rely on them:

``malformed``              not a JWT, or a claim of the wrong type
``algorithm_not_allowed``  ``alg`` is none/unknown, or its kind of key is not configured
``unknown_key``            no ``kid``, or a kid the JWKS does not hold (any more)
``bad_signature``          the signature does not verify
``wrong_issuer``           ``iss`` is not ``settings.jwt_issuer``
``wrong_audience``         ``aud`` does not name ``settings.jwt_audience``
``missing_claim``          ``sub``, ``iss``, ``aud``, ``iat`` or ``exp`` is absent (``details["claim"]``)
``expired``                ``exp`` has passed
``not_yet_valid``          ``iat`` or ``nbf`` is in the future beyond the clock leeway
``lifetime_exceeded``      ``exp - iat`` is over ``settings.jwt_max_lifetime_s``
``roles``                  no list of role names (checked in gateway.auth)
``jurisdiction``           no valid jurisdiction code (checked in gateway.auth)
"""
from __future__ import annotations

import time
from typing import Any, Literal

import jwt

from common.errors import InvalidTokenError
from gateway.jwks import ALGORITHMS as JWKS_ALGORITHMS
from gateway.jwks import source_for
from gateway.settings import Settings

Reason = Literal["malformed", "algorithm_not_allowed", "unknown_key", "bad_signature", "wrong_issuer",
                 "wrong_audience", "missing_claim", "expired", "not_yet_valid", "lifetime_exceeded", "roles",
                 "jurisdiction"]
REASONS: tuple[Reason, ...] = ("malformed", "algorithm_not_allowed", "unknown_key", "bad_signature",
                               "wrong_issuer", "wrong_audience", "missing_claim", "expired", "not_yet_valid",
                               "lifetime_exceeded", "roles", "jurisdiction")
REQUIRED = ("sub", "iss", "aud", "iat", "exp")
# Tolerated clock skew for "not before" checks only: a fresh token from an issuer whose clock runs
# slightly ahead is accepted; expiry is never extended.
LEEWAY_S = 60


def refuse(reason: Reason, message: str, **details: Any) -> InvalidTokenError:
    return InvalidTokenError(message, reason=reason, **details)


async def verify(settings: Settings, token: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise refuse("malformed", "the token is not a well-formed JWT") from None
    alg = header.get("alg")
    if alg == "HS256" and settings.jwt_secret:
        return _decode(settings, token, settings.jwt_secret, "HS256")  # no I/O: stays synchronous
    if alg in JWKS_ALGORITHMS and settings.jwt_jwks:
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise refuse("unknown_key", "the token names no signing key (kid)")
        key = await source_for(settings.jwt_jwks, settings.jwt_jwks_refresh_s).key(kid)
        if key is None:
            raise refuse("unknown_key", "the token's signing key is not (or no longer) published")
        if key.algorithm_name != alg:
            raise refuse("algorithm_not_allowed", "the token's algorithm is not its key's algorithm")
        return _decode(settings, token, key, alg)
    raise refuse("algorithm_not_allowed", "the token's signing algorithm is not accepted here")


def _decode(settings: Settings, token: str, key: Any, alg: str) -> dict[str, Any]:
    try:
        # times are checked below, in our words and with our leeway rules; PyJWT checks the
        # signature first, so nothing about the claims of a forged token is revealed
        claims: dict[str, Any] = jwt.decode(
            token, key, algorithms=[alg], audience=settings.jwt_audience, issuer=settings.jwt_issuer,
            options={"require": list(REQUIRED), "verify_exp": False, "verify_iat": False, "verify_nbf": False})
    except jwt.MissingRequiredClaimError as e:
        raise refuse("missing_claim", f"the token has no `{e.claim}` claim", claim=e.claim) from None
    except jwt.InvalidSignatureError:
        raise refuse("bad_signature", "the token's signature does not verify") from None
    except jwt.InvalidAlgorithmError:
        raise refuse("algorithm_not_allowed", "the token's signing algorithm is not accepted here") from None
    except jwt.InvalidIssuerError:
        raise refuse("wrong_issuer", "the token was issued by someone else") from None
    except jwt.InvalidAudienceError:
        raise refuse("wrong_audience", "the token is meant for another service") from None
    except jwt.PyJWTError:
        raise refuse("malformed", "the token is not a well-formed JWT") from None
    _check_times(settings, claims)
    if not isinstance(claims["sub"], str) or not claims["sub"]:
        raise refuse("malformed", "the token's `sub` is not a non-empty string")
    return claims


def _check_times(settings: Settings, claims: dict[str, Any]) -> None:
    times: dict[str, float] = {}
    for name in ("iat", "exp", "nbf"):
        v = claims.get(name)
        if v is None and name == "nbf":
            continue
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise refuse("malformed", f"the token's `{name}` is not a number")
        times[name] = float(v)
    now = time.time()
    if now >= times["exp"]:
        raise refuse("expired", "the token has expired")
    if times["iat"] > now + LEEWAY_S or times.get("nbf", now) > now + LEEWAY_S:
        raise refuse("not_yet_valid", "the token is not valid yet")
    if times["exp"] - times["iat"] > settings.jwt_max_lifetime_s:
        raise refuse("lifetime_exceeded", f"the token lives longer than {settings.jwt_max_lifetime_s} s "
                                          "(exp - iat)")
