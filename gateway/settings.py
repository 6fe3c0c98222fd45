"""Settings: documented defaults, overridden by a TOML file and by GATEWAY_* environment variables.

Unknown keys are errors at start-up, in the file and in the environment alike: a typo in
a setting must never silently fall back to a default.
"""
from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from common.errors import SettingsError

PROJECT = Path(__file__).resolve().parent.parent
PREFIX = "GATEWAY_"
DEMO_SECRET = "civic-gateway-demo-signing-key-not-for-production"


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field("127.0.0.1", description="Interface to listen on.")
    port: int = Field(8000, ge=0, le=65535, description="Port to listen on.")
    workers: int = Field(1, ge=1, le=64, description="uvicorn worker processes.")
    adapters_dir: Path = Field(PROJECT / "adapters", description="Folder of department folders with spec.yaml.")
    policy_dir: Path = Field(PROJECT / "policies", description="Folder with model.conf and the policy CSV files.")
    jwt_secret: str = Field(DEMO_SECRET, min_length=16, description="HS256 key that signs caller tokens.")
    jwt_issuer: str = Field("civic-gateway", description="Required `iss` claim.")
    jwt_audience: str = Field("civic-gateway", description="Required `aud` claim.")
    id_secret: str = Field("civic-gateway-demo-id-key", min_length=16, description="Key of the opaque ids.")
    auth_mode: Literal["filter", "reject", "dry_run"] = Field("filter", description="What a denied field does.")
    k_anonymity: int = Field(5, ge=2, le=1000, description="Stats cells under k units are suppressed.")
    default_page: int = Field(20, ge=1, le=1000, description="Page size when `first` is omitted.")
    max_page: int = Field(1000, ge=1, le=10000, description="Largest `first` accepted.")
    max_depth: int = Field(12, ge=2, le=64, description="Deepest selection accepted.")
    max_aliases: int = Field(64, ge=1, le=10000, description="Most aliases in one document.")
    max_tokens: int = Field(5000, ge=100, le=100000, description="Most lexical tokens in one document.")
    dev_mode: bool = Field(False, description="Serve GraphiQL on GET /graphql (always on with --demo).")
    demo_dir: Path = Field(PROJECT / "var" / "demo", description="Where `--demo` keeps its generated data.")
    demo_persons: int = Field(83000, ge=100, le=2_000_000, description="Residents in the generated demo.")
    demo_seed: int = Field(20261122, description="Seed of the generated demo.")


ENV_KEYS = {PREFIX + name.upper(): name for name in Settings.model_fields}


def load_settings(file: Path | None = None, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    env = os.environ if env is None else env
    data: dict[str, object] = {}
    file = file or (Path(env["GATEWAY_SETTINGS_FILE"]) if env.get("GATEWAY_SETTINGS_FILE") else None)
    if file is not None:
        try:
            data.update(tomllib.loads(file.read_text(encoding="utf-8")))
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise SettingsError(f"settings file {file}: {e}", path=str(file)) from None
    unknown = sorted(k for k in env if k.startswith(PREFIX) and k not in ENV_KEYS and k != "GATEWAY_SETTINGS_FILE")
    if unknown:
        raise SettingsError(f"unknown setting(s) in the environment: {', '.join(unknown)}; known: "
                            f"{', '.join(sorted(ENV_KEYS))}", key=unknown[0])
    data.update({ENV_KEYS[k]: v for k, v in env.items() if k in ENV_KEYS})
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        msg = "unknown setting" if err["type"] == "extra_forbidden" else err["msg"]
        raise SettingsError(f"setting {key}: {msg}", key=key) from None
