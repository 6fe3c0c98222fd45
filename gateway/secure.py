"""Safe by default: refuse production starts with demo or weak secrets; the key of the stats perturbation.

Production is every start that is not dev/demo mode (``settings.dev_mode``). The check runs in
``gateway serve`` and in each uvicorn worker, never in ``Gateway`` itself, so that tests and the
demo can build gateways with the demo settings.
"""
from __future__ import annotations

import secrets
from pathlib import Path

from common.errors import SettingsError, SettingsInsecureError
from gateway.audit.keys import create_once
from gateway.settings import DEMO_ID_SECRET, DEMO_SECRET, PROJECT, Settings

MIN_SECRET_BYTES = 32
STATS_KEY_FILE = PROJECT / "var" / "stats.key"
STATS_KEY_BYTES = 32


def _weak(value: str, demo_value: str | None = None) -> bool:
    return value == demo_value or len(value.encode()) < MIN_SECRET_BYTES


def insecure_settings(settings: Settings) -> list[str]:
    """Names of the settings that make a production start unsafe, in declaration order."""
    bad: list[str] = []
    # an empty HS256 key is fine when tokens come from a JWKS: it switches HS256 off
    if not (settings.jwt_secret == "" and settings.jwt_jwks) and _weak(settings.jwt_secret, DEMO_SECRET):
        bad.append("jwt_secret")
    if _weak(settings.id_secret, DEMO_ID_SECRET):
        bad.append("id_secret")
    if _weak(settings.stats_secret):
        bad.append("stats_secret")
    if _weak(settings.audit_key):
        bad.append("audit_key")
    if not settings.audit_signing_key:  # a PEM file path: the audit checkpoints' Ed25519 key
        bad.append("audit_signing_key")
    return bad


def check_production(settings: Settings) -> None:
    """Raise SettingsInsecureError naming every unsafe setting, unless in dev/demo mode."""
    if settings.dev_mode:
        return
    bad = insecure_settings(settings)
    if bad:
        raise SettingsInsecureError(
            f"refusing to start outside demo mode with demo, empty or short secret(s): {', '.join(bad)}; "
            f"set each to a random value of at least {MIN_SECRET_BYTES} bytes (GATEWAY_{bad[0].upper()}=...; "
            f"jwt_secret may be empty when jwt_jwks is set), or run `gateway serve --demo`",
            key=bad[0], keys=bad)


def stats_key(settings: Settings, path: Path = STATS_KEY_FILE) -> bytes:
    """The key of the stats perturbation: ``stats_secret``, else a random key kept in ``path``.

    The file fallback only serves dev/demo mode and tests (production refuses an empty
    stats_secret): released figures stay stable between runs, yet nothing in the repository
    can reproduce them.
    """
    if settings.stats_secret:
        return settings.stats_secret.encode()
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        key = _create_key_file(path)
    except OSError as e:
        raise SettingsError(f"stats key file {path}: {e}", key="stats_secret", path=str(path)) from None
    if len(key) != STATS_KEY_BYTES:
        # never silently replace it: a new key would change every released small-cell figure
        raise SettingsError(f"stats key file {path} is not {STATS_KEY_BYTES} bytes; delete it to make a new "
                            f"key (released figures will change) or set stats_secret", key="stats_secret",
                            path=str(path))
    return key


def _create_key_file(path: Path) -> bytes:
    # the first of several workers starting at once wins; every process reads that key
    return create_once(path, lambda: secrets.token_bytes(STATS_KEY_BYTES))
