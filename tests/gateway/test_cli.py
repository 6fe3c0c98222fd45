"""`gateway ...` commands: the installed console script as a subprocess, and ``main()`` in-process."""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
import yaml

from gateway.cli import main
from gateway.settings import DEMO_SECRET, PROJECT, load_settings
from policies.engine import PolicyEngine

GATEWAY = str(Path(sys.executable).parent / "gateway")
ROLES = sorted(PolicyEngine(load_settings(env={}).policy_dir).roles())
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(check=False, args=[GATEWAY, *args], capture_output=True, text=True, cwd=PROJECT, env=env or CLEAN_ENV,
                          timeout=timeout)


def decode(token: str) -> dict[str, object]:
    return jwt.decode(token, DEMO_SECRET, algorithms=["HS256"], audience="civic-gateway", issuer="civic-gateway")


# --- token ------------------------------------------------------------------------------
def test_there_are_demo_roles() -> None:
    assert len(ROLES) >= 10
    assert {"developer", "subdistrict_officer", "committee_worker", "district_analyst", "auditor"} <= set(ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_token_for_every_role_decodes(role: str, capsys: pytest.CaptureFixture[str]) -> None:
    before = int(time.time())
    assert main(["token", "--user", "alice", "--role", role]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    claims = decode(out[0])
    assert claims["sub"] == "alice"
    assert claims["roles"] == [role]
    assert claims["jurisdiction"] == "310107005"  # the demo subdistrict by default
    assert "purpose" not in claims
    assert before - 5 <= int(claims["iat"]) <= int(time.time()) + 5  # type: ignore[call-overload]
    assert int(claims["exp"]) - int(claims["iat"]) == 8 * 3600  # type: ignore[call-overload]


def test_token_with_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "--user", "bob", "--role", "committee_worker", "--role", "culture_staff",
                 "--jurisdiction", "310107005003", "--purpose", "elderly_care_visit", "--ttl", "60"]) == 0
    claims = decode(capsys.readouterr().out.strip())
    assert claims["roles"] == ["committee_worker", "culture_staff"]
    assert claims["jurisdiction"] == "310107005003"
    assert claims["purpose"] == "elderly_care_visit"
    assert int(claims["exp"]) - int(claims["iat"]) == 60  # type: ignore[call-overload]


def test_token_is_signed_with_the_demo_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "--user", "u", "--role", "developer"]) == 0
    token = capsys.readouterr().out.strip()
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, "some-other-signing-key-of-sufficient-length-0123", algorithms=["HS256"], audience="civic-gateway")


@pytest.mark.parametrize("args", [
    ["--role", "nope"],
    ["--role", "developer", "--role", "nope"],
    ["--role", "Developer"],
    ["--role", "developer", "--purpose", "nope"],
    ["--role", "developer", "--purpose", ""],
    ["--role", "developer", "--jurisdiction", "12"],
    ["--role", "developer", "--jurisdiction", "31010700500x"],
], ids=["unknown-role", "one-unknown", "case", "unknown-purpose", "empty-purpose", "short-jurisdiction",
        "bad-jurisdiction"])
def test_token_refuses_bad_arguments(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["token", "--user", "u", *args])
    out = capsys.readouterr()
    if args[-1] == "" and rc == 0:  # an empty purpose is "no purpose": acceptable, but then no claim
        assert "purpose" not in decode(out.out.strip())
        return
    assert rc == 2
    assert out.out.strip() == ""  # no token printed
    assert "Traceback" not in out.err


def test_token_console_script() -> None:
    p = run("token", "--user", "carol", "--role", "subdistrict_officer", "--purpose", "service_planning")
    assert p.returncode == 0, p.stderr
    claims = decode(p.stdout.strip().splitlines()[-1])
    assert claims["roles"] == ["subdistrict_officer"] and claims["purpose"] == "service_planning"
    for bad in (["--role", "nope"], ["--role", "developer", "--purpose", "nope"]):
        p = run("token", "--user", "carol", *bad)
        assert p.returncode == 2, (bad, p.stdout, p.stderr)
        assert p.stdout.strip() == ""
        assert "Traceback" not in p.stderr


def test_usage_errors_exit_2() -> None:
    for args in ([], ["nope"], ["token"], ["token", "--user", "u"], ["policy", "matrix", "--format", "pdf"]):
        p = run(*args)
        assert p.returncode == 2, (args, p.stdout, p.stderr)
        assert "Traceback" not in p.stderr


# --- help -------------------------------------------------------------------------------
COMMANDS = [[], ["serve"], ["demo-data"], ["token"], ["adapters"], ["adapters", "list"], ["adapters", "validate"],
            ["schema"], ["schema", "export"], ["policy"], ["policy", "explain"], ["policy", "matrix"]]


def help_entries(text: str) -> dict[str, str]:
    """{option or subcommand: its help} from argparse's --help output (help may wrap or start on the next line)."""
    entries: dict[str, str] = {}
    current: str | None = None
    section = False
    for line in text.splitlines():
        if line.endswith(":") and not line.startswith(" "):
            section, current = line in ("options:", "positional arguments:"), None
            continue
        if not section or not line.strip():
            current = None
            continue
        indent = len(line) - len(line.lstrip())
        if indent in (2, 4):
            name, _, rest = line.strip().partition("  ")
            current = name
            entries[current] = rest.strip()
        elif current is not None:  # the help, wrapped or on its own line
            entries[current] = (entries[current] + " " + line.strip()).strip()
    return entries


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "gateway")
def test_every_option_and_subcommand_has_help(command: list[str]) -> None:
    p = run(*command, "--help")
    assert p.returncode == 0, p.stderr
    entries = help_entries(p.stdout)
    assert "-h, --help" in entries
    missing = [name for name, text in entries.items() if not text]
    assert not missing, (command, missing, p.stdout)
    if command in ([], ["adapters"], ["schema"], ["policy"]):
        assert len([n for n in entries if not n.startswith("-")]) >= 2, p.stdout  # COMMAND and the subcommands


def test_help_parser_sees_missing_help() -> None:
    text = "usage: x\n\noptions:\n  -h, --help  show\n  --bare\n  --wrapped WRAPPED\n                 here it is\n"
    assert help_entries(text) == {"-h, --help": "show", "--bare": "", "--wrapped WRAPPED": "here it is"}


@pytest.mark.parametrize(("args", "code"), [(["--help"], 0), (["-h"], 0), ([], 2), (["nope"], 2), (["--nope"], 2)])
def test_dev_py_usage(args: list[str], code: int) -> None:
    p = subprocess.run([sys.executable, str(PROJECT / "dev.py"), *args], capture_output=True, text=True,
                       cwd=PROJECT, env=CLEAN_ENV, timeout=60, check=False)
    assert p.returncode == code, (p.stdout, p.stderr)
    out = p.stdout if code == 0 else p.stderr
    assert "usage: python3 dev.py" in out and "demo" in out and "test" in out
    assert "Traceback" not in p.stderr


# --- adapters ---------------------------------------------------------------------------
def test_adapters_list_json() -> None:
    p = run("adapters", "list", "--json")
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)
    assert len(rows) == 16
    names = [r["name"] for r in rows]
    assert len(set(names)) == 16
    assert {"population", "housing", "civil_affairs", "veterans", "greening", "city_management"} <= set(names)
    kinds = {r["kind"] for r in rows}
    assert {"sql", "http", "ledger"} <= kinds <= {"sql", "http", "ledger", "class"}
    for r in rows:
        assert r["department"] and r["entities"], r
        assert Path(r["spec"]).name in ("spec.yaml", "spec.yml")
        assert Path(r["spec"]).parent.name == r["name"]  # the slug is the folder name
    entities = [e for r in rows for e in r["entities"]]
    assert len(entities) == len(set(entities))  # each schema type has one owner


def test_adapters_list_and_validate_report_one_kind_per_adapter() -> None:
    listed = {r["name"]: r["kind"] for r in json.loads(run("adapters", "list", "--json").stdout)}
    assert listed["city_management"] == "http"  # a class adapter over an http system: reported as /readyz does
    assert set(listed.values()) == {"sql", "http", "ledger"}
    p = run("adapters", "validate")
    validated = {ln.split()[1]: ln.split()[2] for ln in p.stdout.splitlines() if ln.startswith("ok ")}
    assert validated == listed


def test_adapters_list_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["adapters", "list"]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.strip()]
    assert len(lines) == 16


def test_adapters_validate_all() -> None:
    p = run("adapters", "validate")
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("\n") >= 15


@pytest.fixture()
def spec_copy(tmp_path: Path) -> Path:
    shutil.copytree(PROJECT / "adapters" / "veterans", tmp_path / "veterans",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path / "veterans" / "spec.yaml"


def edit(path: Path, fn) -> None:  # type: ignore[no-untyped-def]
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    fn(spec)
    path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_adapters_validate_one_good_copy(spec_copy: Path) -> None:
    for target in (spec_copy, spec_copy.parent, spec_copy.parent.parent):
        p = run("adapters", "validate", str(target))
        assert p.returncode == 0, (target, p.stderr)
        assert "veterans" in p.stdout


def _rename_top(old: str, new: str):  # type: ignore[no-untyped-def]
    def f(spec: dict) -> None:  # type: ignore[type-arg]
        spec[new] = spec.pop(old)
    return f


def _entity(fn):  # type: ignore[no-untyped-def]
    def f(spec: dict) -> None:  # type: ignore[type-arg]
        fn(spec["entities"]["VeteranStatus"])
    return f


@pytest.mark.parametrize(("typo", "key", "mutate"), [
    ("optional-top", "descripton", _rename_top("description", "descripton")),
    ("required-top", "titel", _rename_top("title", "titel")),
    ("entity", "filtres", _entity(lambda e: e.__setitem__("filtres", e.pop("filters")))),
    ("connection", "dirr", lambda s: s.__setitem__("connection", {"dirr": s["connection"]["dir"]})),
    ("limits", "timeout", lambda s: s.__setitem__("limits", {"timeout": 1})),
], ids=lambda v: v if isinstance(v, str) else "")
def test_adapters_validate_names_department_and_misspelt_key(spec_copy: Path, typo: str, key: str, mutate) -> None:  # type: ignore[no-untyped-def]
    edit(spec_copy, mutate)
    p = run("adapters", "validate", str(spec_copy))
    assert p.returncode == 2, (p.stdout, p.stderr)
    out = p.stdout + p.stderr
    assert "SPEC_INVALID" in out
    assert "veterans" in out
    assert key in out, out
    assert "Traceback" not in out


def test_adapters_validate_other_errors_exit_2(spec_copy: Path) -> None:
    cases = [
        lambda s: s.__setitem__("kind", "ftp"),
        _entity(lambda e: e["fields"].__setitem__("shoeSize", "shoe")),
        _entity(lambda e: e.pop("jurisdiction")),
        lambda s: s["connection"].__setitem__("dir", "${NO_SUCH_VARIABLE_SET_ANYWHERE}/veterans"),
        lambda s: s.__setitem__("department", "veteranz"),
    ]
    original = spec_copy.read_text(encoding="utf-8")
    for mutate in cases:
        spec_copy.write_text(original, encoding="utf-8")
        edit(spec_copy, mutate)
        p = run("adapters", "validate", str(spec_copy))
        assert p.returncode == 2, (spec_copy.read_text(), p.stdout, p.stderr)
        assert "veteran" in p.stderr and "Traceback" not in p.stderr


def test_adapters_validate_missing_path_is_an_error(tmp_path: Path) -> None:
    p = run("adapters", "validate", str(tmp_path / "nothing-here"))
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr


# --- schema -----------------------------------------------------------------------------
def test_schema_export_matches_checked_in_sdl(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "schema.graphql"
    assert main(["schema", "export", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == (PROJECT / "schema" / "schema.graphql").read_text(encoding="utf-8")


# --- policy -----------------------------------------------------------------------------
def effect(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["policy", "explain", *args]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    return first.rsplit(":", 1)[1].strip()


@pytest.mark.parametrize(("role", "field", "expected"), [  # the matrix's words
    ("committee_worker", "Person.idNumber", "masked"),
    ("committee_worker", "Person.name", "allow"),
    ("district_analyst", "Query.persons", "denied"),
    ("district_analyst", "Person.name", "denied"),
    ("developer", "HealthRecord.familyDoctor", "denied"),
    ("developer", "Person.phone", "masked"),
    ("committee_secretary", "Person.idNumber", "allow"),
    ("auditor", "Person.name", "denied"),
    ("culture_staff", "Query.persons", "no grant"),
    ("developer", "Gateway.trace", "use"),
    ("auditor", "Query.auditLog", "allow"),
])
def test_policy_explain(role: str, field: str, expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert effect(["--role", role, field], capsys) == expected


def test_policy_explain_console_script() -> None:
    p = run("policy", "explain", "--role", "committee_worker", "Person.idNumber")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[0].rsplit(":", 1)[1].strip() == "masked"
    p = run("policy", "explain", "--role", "district_analyst", "Query.persons")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[0].rsplit(":", 1)[1].strip() == "denied"


def _rule_lines(out: str) -> list[tuple[str, int, str]]:
    """(file, line, text) of each `file:line  text` the explanation names."""
    found = []
    for ln in out.splitlines():
        place, sep, text = ln.removeprefix("  rule:").strip().partition("  ")
        if sep and place.count(":") == 1 and place.split(":")[0].endswith(".csv"):
            found.append((place.split(":")[0], int(place.split(":")[1]), text))
    return found


@pytest.mark.parametrize(("args", "word"), [
    (["--role", "committee_secretary", "Person.phone"], "allow"),  # a rule the secretary inherits
    (["--role", "family_doctor", "--purpose", "health_service", "HealthRecord.diabetes"], "allow (health_service)"),
    (["--role", "developer", "HealthRecord.diabetes"], "denied"),
    (["--role", "auditor", "Gateway.audit"], "use"),
])
def test_policy_explain_names_file_line_and_the_matrix_word(args: list[str], word: str,
                                                            matrix_rows: list[dict[str, str]]) -> None:
    p = run("policy", "explain", *args)
    assert p.returncode == 0, p.stderr
    role, field = args[1], args[-1]
    said = p.stdout.splitlines()[0].split(": ", 1)[1]
    assert said == word
    if "--purpose" not in args:  # without a purpose, explain says what the matrix says
        assert said == next(r for r in matrix_rows if r["field"] == field)[role]
    rules = _rule_lines(p.stdout)
    assert rules, p.stdout
    for file, line, text in rules:  # each named line is that line of that file
        assert (PROJECT / "policies" / file).read_text(encoding="utf-8").splitlines()[line - 1] == text


def test_policy_explain_unknown_purpose_exits_2() -> None:
    p = run("policy", "explain", "--role", "developer", "--purpose", "nope", "Person.house")
    assert p.returncode == 2
    assert "UNKNOWN_PURPOSE" in p.stderr


@pytest.fixture(scope="module")
def matrix_rows() -> list[dict[str, str]]:
    """The role x field matrix, computed once (it takes seconds); each test renders it through the CLI."""
    from policies import matrix as m
    from resolvers.schema_def import root_coordinates
    from schema.build import field_meta

    meta = field_meta()
    return m.matrix(PolicyEngine(load_settings(env={}).policy_dir, meta), meta, root_coordinates())


@pytest.fixture()
def cached_matrix(monkeypatch: pytest.MonkeyPatch, matrix_rows: object) -> None:
    from policies import matrix as m

    monkeypatch.setattr(m, "matrix", lambda *args, **kwargs: matrix_rows)


@pytest.mark.parametrize("fmt", ["csv", "md", "html"])
def test_policy_matrix_contains_every_role(fmt: str, cached_matrix: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "matrix", "--format", fmt]) == 0
    out = capsys.readouterr().out
    for role in ROLES:
        assert role in out, (fmt, role)
    assert "Person.idNumber" in out and "Query.persons" in out and "Query.auditLog" in out
    if fmt == "html":
        assert out.lstrip().startswith("<") and "</table>" in out
    if fmt == "md":
        assert out.lstrip().startswith("|")


def test_policy_matrix_csv_is_a_table(cached_matrix: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "matrix", "--format", "csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    header = rows[0]
    assert set(ROLES) <= set(header)
    assert all(len(r) == len(header) for r in rows[1:] if r)
    by_field = {r[0]: dict(zip(header, r, strict=True)) for r in rows[1:] if r}
    assert by_field["Person.idNumber"]["committee_worker"].startswith("mask")
    assert by_field["Query.persons"]["district_analyst"].startswith("den")


def test_policy_matrix_console_script_is_quick() -> None:
    t0 = time.perf_counter()
    p = run("policy", "matrix", "--format", "csv")
    elapsed = time.perf_counter() - t0
    assert p.returncode == 0, p.stderr
    assert len(p.stdout.splitlines()) > 100
    assert elapsed < 60, elapsed  # about 2 s on a quiet machine; pycasbin alone took 20-50 s


@pytest.mark.parametrize("role", ["committee_secretary", "family_doctor"])  # inherited rules; purposes
def test_policy_matrix_replay_gives_the_same_matrix_as_casbin(role: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from policies import matrix as m
    from schema.build import field_meta

    meta = field_meta()
    engine = PolicyEngine(load_settings(env={}).policy_dir, meta)
    fast = m.matrix(engine, meta, roles=[role])
    assert engine.casbin_calls == 0  # the replay answered everything
    monkeypatch.setattr(m._Replay, "applies", staticmethod(lambda enforcer: False))
    slow = m.matrix(PolicyEngine(load_settings(env={}).policy_dir, meta), meta, roles=[role])
    assert fast == slow
    for fmt in ("md", "csv", "html"):
        assert m.render(fast, fmt) == m.render(slow, fmt)


def test_policy_matrix_replay_answers_like_casbin() -> None:
    """enforce_ex of the replay against pycasbin's on a deterministic sample of every kind of question."""
    import random

    from policies import matrix as m
    from schema.build import field_meta

    meta = field_meta()
    engine = PolicyEngine(load_settings(env={}).policy_dir, meta)
    enforcer = engine._enforcer
    assert m._Replay.applies(enforcer)
    replay = m._Replay(enforcer)
    rng = random.Random(7)
    from resolvers.schema_def import root_coordinates

    coordinates = [*root_coordinates(), *meta, *engine.capabilities(), "Person.nope", "Nope.name"]
    roles = [*ROLES, "authenticated", "statistics_reader", "nobody"]
    acts = ["read", "read_masked", "aggregate", "write", "use"]
    for _ in range(400):
        q = (rng.choice(roles), rng.choice(coordinates), rng.choice(acts))
        assert replay.enforce_ex(*q) == tuple(enforcer.enforce_ex(*q)), q
    ctx2 = enforcer.new_enforce_context("2")
    for role in roles:
        for category in ("health", "disability", "minors", "whereabouts", "identity"):
            for purpose in [*engine.purposes(), "nope"]:
                q2 = (role, category, purpose)
                assert replay.enforce_ex(ctx2, *q2) == tuple(enforcer.enforce_ex(ctx2, *q2)), q2


# --- demo-data --------------------------------------------------------------------------
def manifest(d: Path) -> dict[str, object]:
    return json.loads((d / "manifest.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_demo_data_generates_caches_and_regenerates(tmp_path: Path) -> None:
    d = tmp_path / "demo"
    p = run("demo-data", "--dir", str(d), "--persons", "500")
    assert p.returncode == 0, p.stderr
    m = manifest(d)
    assert m["persons"] == 500 and m["complete"] is True
    assert (d / "population.db").is_file()
    assert (d / "veterans" / "veterans.csv").is_file()
    stamp = (d / "population.db").stat().st_mtime_ns

    t0 = time.perf_counter()
    p = run("demo-data", "--dir", str(d), "--persons", "500")
    assert p.returncode == 0, p.stderr
    assert (d / "population.db").stat().st_mtime_ns == stamp  # cached: nothing rewritten
    assert time.perf_counter() - t0 < 10

    p = run("demo-data", "--dir", str(d), "--persons", "500", "--seed", "7")
    assert p.returncode == 0, p.stderr
    assert manifest(d)["seed"] == 7
    assert (d / "population.db").stat().st_mtime_ns != stamp
    assert (d / "veterans" / "veterans.csv").read_bytes() != b""


def test_demo_data_seed_zero_is_a_seed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "demo0"
    assert main(["demo-data", "--dir", str(d), "--persons", "300", "--seed", "0"]) == 0
    assert manifest(d)["seed"] == 0
    assert manifest(d)["persons"] == 300


def test_demo_data_is_deterministic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        assert main(["demo-data", "--dir", str(d), "--persons", "300", "--seed", "11"]) == 0
    assert (a / "veterans" / "veterans.csv").read_bytes() == (b / "veterans" / "veterans.csv").read_bytes()
    assert (a / "hr_social" / "employment.csv").read_bytes() == (b / "hr_social" / "employment.csv").read_bytes()


def test_settings_file_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "ok.toml"
    good.write_text('jwt_issuer = "civic-gateway"\n', encoding="utf-8")
    assert main(["--settings", str(good), "token", "--user", "u", "--role", "developer"]) == 0
    decode(capsys.readouterr().out.strip())
    bad = tmp_path / "bad.toml"
    bad.write_text('jwt_isuer = "x"\n', encoding="utf-8")
    assert main(["--settings", str(bad), "token", "--user", "u", "--role", "developer"]) == 2
    err = capsys.readouterr().err
    assert "SETTINGS_INVALID" in err and "jwt_isuer" in err
