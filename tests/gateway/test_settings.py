"""Settings: documented defaults, TOML file and GATEWAY_* environment; unknown or ill-typed settings stop the start."""
from __future__ import annotations

from pathlib import Path

import pytest

from common.errors import SettingsError
from gateway.settings import ENV_KEYS, PREFIX, Settings, load_settings


def test_defaults_load_from_an_empty_environment() -> None:
    s = load_settings(env={})
    assert s == Settings()
    assert s.max_depth == 12 and s.max_aliases == 64 and s.max_page == 1000 and s.k_anonymity == 5
    assert s.auth_mode == "filter"


def test_every_setting_is_documented() -> None:
    for name, f in Settings.model_fields.items():
        assert f.description and len(f.description) > 10, name
        assert not f.is_required(), f"{name} has no default"


def test_every_setting_has_an_environment_variable() -> None:
    assert set(ENV_KEYS.values()) == set(Settings.model_fields)
    assert all(k == PREFIX + v.upper() for k, v in ENV_KEYS.items())


@pytest.mark.parametrize("var", ["GATEWAY_PROT", "GATEWAY_MAX_DEPHT", "GATEWAY_", "GATEWAY_port_extra",
                                 "GATEWAY_SETTINGS"])
def test_unknown_environment_variable_is_an_error(var: str) -> None:
    with pytest.raises(SettingsError) as e:
        load_settings(env={var: "1"})
    assert e.value.code == "SETTINGS_INVALID"
    assert e.value.details["key"] == var


def test_other_environment_variables_are_ignored() -> None:
    assert load_settings(env={"HOME": "/root", "GATEWAYX_PORT": "1", "HOUSING_URL": "http://x"}) == Settings()


def test_environment_overrides_defaults() -> None:
    s = load_settings(env={"GATEWAY_PORT": "9001", "GATEWAY_DEV_MODE": "true", "GATEWAY_K_ANONYMITY": "10",
                           "GATEWAY_AUTH_MODE": "reject", "GATEWAY_ADAPTERS_DIR": "/srv/adapters"})
    assert (s.port, s.dev_mode, s.k_anonymity, s.auth_mode) == (9001, True, 10, "reject")
    assert s.adapters_dir == Path("/srv/adapters")


@pytest.mark.parametrize(("var", "value"), [
    ("GATEWAY_PORT", "eighty"),
    ("GATEWAY_PORT", "70000"),
    ("GATEWAY_PORT", "-1"),
    ("GATEWAY_PORT", "80.5"),
    ("GATEWAY_WORKERS", "0"),
    ("GATEWAY_DEV_MODE", "maybe"),
    ("GATEWAY_AUTH_MODE", "allow_all"),
    ("GATEWAY_K_ANONYMITY", "1"),
    ("GATEWAY_MAX_PAGE", "0"),
    ("GATEWAY_MAX_DEPTH", "1"),
    ("GATEWAY_MAX_TOKENS", "10"),
    ("GATEWAY_JWT_SECRET", "short"),
    ("GATEWAY_ID_SECRET", "short"),
    ("GATEWAY_DEMO_PERSONS", "5"),
])
def test_bad_environment_values(var: str, value: str) -> None:
    with pytest.raises(SettingsError) as e:
        load_settings(env={var: value})
    assert e.value.code == "SETTINGS_INVALID"
    assert e.value.details["key"] == ENV_KEYS[var]


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "gateway.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_settings_file(tmp_path: Path) -> None:
    f = write(tmp_path, 'port = 8123\nmax_depth = 20\nauth_mode = "dry_run"\ndev_mode = true\n')
    s = load_settings(f, env={})
    assert (s.port, s.max_depth, s.auth_mode, s.dev_mode) == (8123, 20, "dry_run", True)


def test_settings_file_from_the_environment(tmp_path: Path) -> None:
    f = write(tmp_path, "port = 8124\n")
    assert load_settings(env={"GATEWAY_SETTINGS_FILE": str(f)}).port == 8124


def test_precedence_overrides_over_environment_over_file(tmp_path: Path) -> None:
    f = write(tmp_path, "port = 1111\nworkers = 2\nmax_aliases = 7\n")
    s = load_settings(f, env={"GATEWAY_PORT": "2222", "GATEWAY_WORKERS": "3"}, workers=4)
    assert (s.port, s.workers, s.max_aliases) == (2222, 4, 7)


@pytest.mark.parametrize(("text", "key"), [
    ("prot = 80\n", "prot"),
    ("port = 80\nmax_dept = 3\n", "max_dept"),
    ("[server]\nport = 80\n", "server"),
    ("PORT = 80\n", "PORT"),
])
def test_unknown_key_in_settings_file(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(SettingsError) as e:
        load_settings(write(tmp_path, text), env={})
    assert e.value.code == "SETTINGS_INVALID"
    assert e.value.details["key"] == key


@pytest.mark.parametrize(("text", "key"), [
    ('port = "eighty"\n', "port"),
    ("port = 8000.5\n", "port"),
    ("port = [8000]\n", "port"),
    ("dev_mode = 3\n", "dev_mode"),
    ('auth_mode = "open"\n', "auth_mode"),
    ("max_page = -5\n", "max_page"),
    ("k_anonymity = 1\n", "k_anonymity"),
    ('jwt_secret = "tiny"\n', "jwt_secret"),
    ("workers = {n = 2}\n", "workers"),
])
def test_bad_value_types_in_settings_file(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(SettingsError) as e:
        load_settings(write(tmp_path, text), env={})
    assert e.value.code == "SETTINGS_INVALID"
    assert e.value.details["key"] == key


@pytest.mark.parametrize("text", ["port = \n", "port 80\n", "[unclosed\n", "port = 80\nport = 81\n", "\x00"])
def test_malformed_settings_file(tmp_path: Path, text: str) -> None:
    with pytest.raises(SettingsError) as e:
        load_settings(write(tmp_path, text), env={})
    assert e.value.code == "SETTINGS_INVALID"


def test_missing_settings_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as e:
        load_settings(tmp_path / "absent.toml", env={})
    assert e.value.code == "SETTINGS_INVALID"
    with pytest.raises(SettingsError):
        load_settings(env={"GATEWAY_SETTINGS_FILE": str(tmp_path / "absent.toml")})


def test_settings_are_frozen() -> None:
    s = load_settings(env={})
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen-instance error
        s.port = 1  # type: ignore[misc]


def test_settings_error_is_a_config_error() -> None:
    from common.errors import ConfigError

    assert issubclass(SettingsError, ConfigError)
    assert SettingsError.code == "SETTINGS_INVALID"


# --- safe by default: production starts, the HS256 switch, the stats key -----------------
STRONG = {"GATEWAY_JWT_SECRET": "j" * 40, "GATEWAY_ID_SECRET": "i" * 40, "GATEWAY_STATS_SECRET": "s" * 40,
          "GATEWAY_AUDIT_KEY": "a" * 40, "GATEWAY_AUDIT_SIGNING_KEY": "/etc/civic-gateway/audit_signing.pem"}


def test_jwt_secret_may_be_empty_to_switch_hs256_off() -> None:
    assert load_settings(env={"GATEWAY_JWT_SECRET": "", "GATEWAY_JWT_JWKS": "/etc/jwks.json"}).jwt_secret == ""


def test_production_check_names_every_insecure_setting() -> None:
    from common.errors import SettingsInsecureError
    from gateway.secure import check_production

    with pytest.raises(SettingsInsecureError) as e:
        check_production(load_settings(env={}))
    assert e.value.code == "SETTINGS_INSECURE"
    assert e.value.details["keys"] == ["jwt_secret", "id_secret", "stats_secret", "audit_key", "audit_signing_key"]
    assert e.value.details["key"] == "jwt_secret"


@pytest.mark.parametrize(("env", "bad"), [
    ({"GATEWAY_JWT_SECRET": "x" * 31}, ["jwt_secret"]),
    ({"GATEWAY_JWT_SECRET": ""}, ["jwt_secret"]),  # empty without a JWKS: no way to sign in at all
    ({"GATEWAY_ID_SECRET": "civic-gateway-demo-id-key"}, ["id_secret"]),
    ({"GATEWAY_ID_SECRET": "y" * 31}, ["id_secret"]),
    ({"GATEWAY_STATS_SECRET": ""}, ["stats_secret"]),
    ({"GATEWAY_STATS_SECRET": "z" * 31}, ["stats_secret"]),
    ({"GATEWAY_JWT_SECRET": "civic-gateway-demo-signing-key-not-for-production"}, ["jwt_secret"]),
])
def test_production_check_refuses_each_weak_secret(env: dict[str, str], bad: list[str]) -> None:
    from common.errors import SettingsInsecureError
    from gateway.secure import check_production

    with pytest.raises(SettingsInsecureError) as e:
        check_production(load_settings(env={**STRONG, **env}))
    assert e.value.details["keys"] == bad and e.value.details["key"] == bad[0]


@pytest.mark.parametrize("env", [
    STRONG,
    {**STRONG, "GATEWAY_JWT_SECRET": "", "GATEWAY_JWT_JWKS": "https://idp.example/jwks.json"},
    {"GATEWAY_DEV_MODE": "true"},  # demo/dev mode: the demo keys are fine
])
def test_production_check_passes_with_real_keys(env: dict[str, str]) -> None:
    from gateway.secure import check_production

    check_production(load_settings(env=env))


def test_serve_without_demo_or_real_keys_exits_at_once() -> None:
    """A real `gateway serve` with no GATEWAY_* settings: refused before any child service starts."""
    import os
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    t0 = time.monotonic()
    p = subprocess.run([str(Path(sys.executable).parent / "gateway"), "serve", "--port", str(port)], env=env,
                       capture_output=True, text=True, timeout=60, check=False)
    assert time.monotonic() - t0 < 30
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "error [SETTINGS_INSECURE]" in p.stderr
    assert all(k in p.stderr for k in ("jwt_secret", "id_secret", "stats_secret"))
    assert "Traceback" not in p.stderr
    assert "demo data ready" not in p.stderr and "department services up" not in p.stderr


def test_stats_key_is_made_once_private_and_stable(tmp_path: Path) -> None:
    from gateway.secure import stats_key

    path = tmp_path / "var" / "stats.key"
    k1 = stats_key(Settings(), path)
    assert len(k1) == 32 and path.read_bytes() == k1
    assert path.stat().st_mode & 0o777 == 0o600
    assert stats_key(Settings(), path) == k1  # reused: released figures are stable between runs
    assert [p.name for p in path.parent.iterdir()] == ["stats.key"]  # no temporary file left behind
    assert stats_key(Settings(stats_secret="t" * 40), path) == b"t" * 40


def test_stats_key_file_is_never_silently_replaced(tmp_path: Path) -> None:
    from gateway.secure import stats_key

    path = tmp_path / "stats.key"
    path.write_bytes(b"short")
    with pytest.raises(SettingsError) as e:
        stats_key(Settings(), path)
    assert e.value.details["key"] == "stats_secret"
    assert path.read_bytes() == b"short"


def test_default_stats_key_lives_outside_the_tracked_files() -> None:
    import subprocess

    from gateway.secure import STATS_KEY_FILE, stats_key
    from gateway.settings import PROJECT

    assert stats_key(Settings()) == stats_key(Settings())
    assert STATS_KEY_FILE.stat().st_mode & 0o777 == 0o600
    rel = str(STATS_KEY_FILE.relative_to(PROJECT))
    assert subprocess.run(["git", "check-ignore", "-q", rel], cwd=PROJECT, check=False).returncode == 0
    assert subprocess.run(["git", "ls-files", "var"], cwd=PROJECT, capture_output=True, text=True,
                          check=False).stdout == ""
