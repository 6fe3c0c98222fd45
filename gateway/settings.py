"""Settings: documented defaults, overridden by a TOML file and by GATEWAY_* environment variables
(``GATEWAY_<KEY>_FILE`` names a file holding the value, as Docker secrets are given).

Unknown keys are errors at start-up, in the file and in the environment alike: a typo in
a setting must never silently fall back to a default.
"""
from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from common.errors import SettingsError

PROJECT = Path(__file__).resolve().parent.parent
PREFIX = "GATEWAY_"
DEMO_SECRET = "civic-gateway-demo-signing-key-not-for-production"
DEMO_ID_SECRET = "civic-gateway-demo-id-key"


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field("127.0.0.1", description="Interface to listen on.")
    port: int = Field(8000, ge=0, le=65535, description="Port to listen on.")
    workers: int = Field(1, ge=1, le=64, description="uvicorn worker processes.")
    adapters_dir: Path = Field(PROJECT / "adapters", description="Folder of department folders with spec.yaml.")
    policy_dir: Path = Field(PROJECT / "policies", description="Folder with model.conf and the policy CSV files.")
    ledgers_dir: Path = Field(PROJECT / "ledgers", description="Folder of ledger files (NAME.yaml): saved queries "
                              "exported as CSV or XLSX at GET /ledgers/NAME (gateway/ledgers.py).")
    ledger_max_rows: int = Field(100_000, ge=1, le=1_000_000, description="Most rows a ledger export reads.")
    jwt_secret: str = Field(DEMO_SECRET, description="HS256 key of caller tokens (demo/dev and `gateway token`; at "
                                                     "least 32 bytes outside demo mode). Empty: HS256 off, "
                                                     "tokens come from jwt_jwks only.")
    jwt_issuer: str = Field("civic-gateway", description="Required `iss` claim.")
    jwt_audience: str = Field("civic-gateway", description="Required `aud` claim.")
    id_secret: str = Field(DEMO_ID_SECRET, min_length=16, description="Key of the opaque ids.")
    jwt_jwks: str = Field("", description="JWKS for RS256/ES256 tokens: a file path or an http(s) URL (fetched, "
                                          "cached and refreshed). Empty: no asymmetric tokens.")
    jwt_jwks_refresh_s: float = Field(300.0, gt=0, le=86400, description="How often a JWKS URL is fetched again.")
    jwt_max_lifetime_s: int = Field(12 * 3600, ge=60, le=7 * 86400,
                                    description="Longest accepted token lifetime (`exp - iat`).")
    stats_secret: str = Field("", description="Key of the statistical perturbation (at least 32 bytes outside "
                                              "demo mode). Rotating it changes released small-cell figures, so "
                                              "figures published before and after no longer match. Empty: a "
                                              "random key made once in var/stats.key (never in the repository); "
                                              "refused outside demo mode.")
    max_body_bytes: int = Field(256 * 1024, ge=1024, le=64 * 1024 * 1024,
                                description="Largest request body accepted (413 REQUEST_TOO_LARGE beyond).")
    max_variables_bytes: int = Field(64 * 1024, ge=256, le=64 * 1024 * 1024,
                                     description="Largest `variables` object accepted, as JSON bytes.")
    request_deadline_s: float = Field(10.0, gt=0, le=600,
                                      description="Deadline of one request; outstanding department calls are "
                                                  "cancelled and REQUEST_TIMEOUT answered.")
    cost_budget: int = Field(50_000, ge=1, description="Largest static cost of an operation (QUERY_TOO_COSTLY "
                                                        "beyond); roles may override it in the policy files.")
    introspection: bool | None = Field(None, description="Serve schema introspection; default: on in dev/demo "
                                                         "mode, off in production.")
    log_format: Literal["text", "json"] = Field("text", description="Log lines as text or as JSON lines.")
    admin_port: int | None = Field(None, ge=0, le=65535, description="Serve /metrics and /readyz on this port "
                                                                     "only; default: on the main port.")
    auth_mode: Literal["filter", "reject", "dry_run"] = Field("filter", description="What a denied field does.")
    stats_cache_s: float = Field(300.0, ge=0, le=86400, description="How long the true stats lattice of a "
                                 "(subject, scope) is reused before it is computed again (served while the "
                                 "refresh runs for as long again); 0: computed on every stats request.")
    keyset_cache_s: float = Field(60.0, ge=0, le=86400, description="How long the key set of a department-"
                                  "sourced filter value (e.g. livingAlone: true over a scope), and a root list's "
                                  "totalCount, is reused before it "
                                  "is fetched again (served while the refresh runs for as long again); 0: fetched "
                                  "for every query.")
    stats_timeout_s: float = Field(120.0, gt=0, le=3600, description="Longest call into a department while a "
                                   "stats lattice or a filter key set is computed for reuse, in the background of "
                                   "requests.")
    execution: Literal["compiled", "reference"] = Field(
        "compiled", description="How an answer is completed: `compiled` (plans cached per document, falling back "
                                "to graphql-core for what they do not cover) or `reference` (graphql-core only).")
    k_anonymity: int = Field(5, ge=2, le=1000, description="Stats cells under k units are suppressed.")
    default_page: int = Field(20, ge=1, le=1000, description="Page size when `first` is omitted.")
    max_page: int = Field(1000, ge=1, le=10000, description="Largest `first` accepted.")
    max_depth: int = Field(12, ge=2, le=64, description="Deepest selection accepted.")
    max_aliases: int = Field(64, ge=1, le=10000, description="Most aliases in one document.")
    max_tokens: int = Field(5000, ge=100, le=100000, description="Most lexical tokens in one document.")
    department_timeout_s: float = Field(5.0, gt=0, le=300, description="Longest call into a department, the wait "
                                        "for a concurrency slot included; a spec's limits.timeout_s overrides it.")
    department_max_concurrency: int = Field(16, ge=1, le=1000, description="Concurrent calls into one department; "
                                            "a spec's limits.max_concurrency overrides it.")
    breaker_threshold: int = Field(5, ge=1, le=1000, description="Consecutive failures that open a department's "
                                   "circuit breaker; a spec's limits.breaker_threshold overrides it.")
    breaker_cooldown_s: float = Field(10.0, gt=0, le=3600, description="How long an open breaker fails calls fast "
                                      "before one trial; a spec's limits.breaker_cooldown_s overrides it.")
    health_interval_s: float = Field(2.0, gt=0, le=3600, description="How often each department's health is "
                                     "checked in the background (/readyz answers from these checks).")
    ready_required: str = Field("", description="Comma-separated department slugs without which /readyz answers "
                                "503; empty: ready whenever the gateway can serve (departments degrade alone).")
    ledger_bad_rows_ratio: float = Field(0.01, ge=0, le=1, description="Share of a ledger's rows failing "
                                         "validation above which the department is `degraded` in /readyz.")
    audit_url: str = Field("", description="SQLAlchemy URL of the audit store (postgresql+asyncpg://... in "
                           "production, sqlite+aiosqlite:///path); empty: SQLite in var/audit.db.")
    audit_key: str = Field("", description="HMAC key of the data subjects in the audit log (at least 32 bytes "
                           "outside demo mode). Empty: a random key made once in var/audit.key; refused outside "
                           "demo mode.")
    audit_signing_key: str = Field("", description="PEM file of the Ed25519 private key that signs audit "
                                   "checkpoints (required outside demo mode). Empty: var/audit_signing.pem, "
                                   "made once.")
    audit_buffer: int = Field(10_000, ge=10, le=10_000_000, description="Audit records held in memory while "
                              "the store is down; when full every data request is refused (AUDIT_UNAVAILABLE).")
    audit_checkpoint_records: int = Field(1000, ge=1, le=10_000_000, description="Seal a signed audit "
                                          "checkpoint at least every this many records.")
    audit_checkpoint_s: float = Field(10.0, gt=0, le=86400, description="Seal a signed audit checkpoint at "
                                      "least this often while records arrive.")
    audit_timeout_s: float = Field(2.0, gt=0, le=300, description="Longest wait on the audit store per batch "
                                   "(lock, connect, statement) before it counts as down.")
    alerts_url: str = Field("", description="SQLAlchemy URL of the water alert store, shared by the alert workers "
                            "and the gateways that deliver and acknowledge alerts (postgresql+asyncpg://... in "
                            "production); empty: SQLite in var/alerts.db.")
    mqtt_url: str = Field("mqtt://127.0.0.1:1883", description="The MQTT broker the water utility publishes meter "
                          "readings to (docs/alerts.md); read by `gateway alerts` only.")
    mqtt_prefix: str = Field("water", pattern=r"^[A-Za-z0-9_-]{1,64}$", description="First topic level of the meter "
                             "readings: `{mqtt_prefix}/{account}/reading`.")
    alerts_jurisdiction: str = Field("310107", pattern=r"^[0-9]{6,18}$", description="The area whose elders living "
                                     "alone the alert workers watch (a district, subdistrict or committee code).")
    alerts_silence_h: float = Field(24.0, gt=0, le=24 * 30, description="Hours without water consumption, in "
                                    "meter time, after which a watched house raises an alert.")
    alerts_watch_s: float = Field(300.0, gt=0, le=86400, description="How often an alert worker computes again "
                                  "which houses it watches (new elders living alone, new vacancies).")
    alerts_poll_s: float = Field(0.5, gt=0, le=60, description="How often a gateway looks for new alerts to deliver "
                                 "to its subscriptions.")
    redis_url: str = Field("", description="Redis that the gateway replicas share (redis://127.0.0.1:6379/0): the "
                           "callers' rate limits, the departments' breakers and the response cache. Empty: each "
                           "process keeps its own.")
    redis_prefix: str = Field("civic", pattern=r"^[A-Za-z0-9_.:-]{1,64}$", description="Prefix of every key the "
                              "gateway keeps in Redis (several gateways may share one Redis).")
    rate_limits: str = Field("", description="Requests per caller per window, by role: `role=N/SECONDS`, comma-"
                             "separated; `*` for roles not named (e.g. `*=600/60,district_analyst=60/60`). A caller "
                             "with several roles gets the most generous. A POST, a ledger export and a subscription "
                             "count once each; over it, 429 RATE_LIMITED with Retry-After. "
                             "Empty: no limit (the cost budget and the request deadline still bound each request).")
    response_cache_s: float = Field(0.0, ge=0, le=86400, description="How long an answer is reused for callers with "
                                    "the same roles, purpose and jurisdiction (and user, under a row rule) at the same "
                                    "policy version; never an answer with sensitive fields, errors or a write; a "
                                    "department's limits.cache_ttl_s shortens it. 0: off.")
    dev_mode: bool = Field(False, description="Serve GraphiQL on GET /graphql (always on with --demo).")
    demo_dir: Path = Field(PROJECT / "var" / "demo", description="Where `--demo` keeps its generated data.")
    demo_persons: int = Field(83000, ge=100, le=2_000_000, description="Residents in the generated demo.")
    demo_seed: int = Field(20261122, description="Seed of the generated demo.")

    @field_validator("rate_limits")
    @classmethod
    def _rate_limits(cls, v: str) -> str:
        parse_rate_limits(v)
        return v

    @field_validator("jwt_secret")
    @classmethod
    def _hs256_key_or_off(cls, v: str) -> str:
        # "" switches HS256 off (JWKS-only deployments); a short non-empty key is always a mistake
        if v and len(v.encode()) < 16:
            raise ValueError("must be empty (HS256 off) or at least 16 bytes")
        return v


ENV_KEYS = {PREFIX + name.upper(): name for name in Settings.model_fields}


def parse_rate_limits(text: str) -> dict[str, tuple[int, int]]:
    """``role=N/SECONDS,...`` -> role -> (requests, window seconds)."""
    out: dict[str, tuple[int, int]] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        role, _, rate = part.partition("=")
        n, _, window = rate.partition("/")
        if not role.strip() or not n.strip().isdigit() or not window.strip().isdigit() or int(window) < 1 \
                or int(n) < 1:
            raise ValueError(f"rate limit {part!r} is not role=REQUESTS/SECONDS (both at least 1)")
        out[role.strip()] = (int(n), int(window))
    return out


def load_settings(file: Path | None = None, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    env = os.environ if env is None else env
    data: dict[str, object] = {}
    file = file or (Path(env["GATEWAY_SETTINGS_FILE"]) if env.get("GATEWAY_SETTINGS_FILE") else None)
    if file is not None:
        try:
            data.update(tomllib.loads(file.read_text(encoding="utf-8")))
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise SettingsError(f"settings file {file}: {e}", path=str(file)) from None
    from_files = {k: k.removesuffix("_FILE") for k in env if k.endswith("_FILE") and k.removesuffix("_FILE") in ENV_KEYS}
    unknown = sorted(k for k in env if k.startswith(PREFIX) and k not in ENV_KEYS and k not in from_files
                     and k != "GATEWAY_SETTINGS_FILE")
    if unknown:
        raise SettingsError(f"unknown setting(s) in the environment: {', '.join(unknown)}; known: "
                            f"{', '.join(sorted(ENV_KEYS))}", key=unknown[0])
    for var, key in from_files.items():  # GATEWAY_<KEY>_FILE: the value is the file's content (Docker secrets)
        try:
            data[ENV_KEYS[key]] = Path(env[var]).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as e:
            raise SettingsError(f"{var}: cannot read {env[var]} ({e.strerror})", key=ENV_KEYS[key]) from None
    data.update({ENV_KEYS[k]: v for k, v in env.items() if k in ENV_KEYS})
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        msg = "unknown setting" if err["type"] == "extra_forbidden" else err["msg"]
        raise SettingsError(f"setting {key}: {msg}", key=key) from None
