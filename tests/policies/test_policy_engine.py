from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from common.errors import PolicyFileError, UnknownPurposeError
from policies.engine import DEFAULT_DIR, PolicyEngine
from schema.build import field_meta as build_field_meta


@pytest.fixture(scope="module")
def field_meta() -> dict[str, dict[str, Any]]:
    return build_field_meta()


@pytest.fixture()
def engine(field_meta: dict[str, dict[str, Any]]) -> PolicyEngine:
    return PolicyEngine(field_meta=field_meta)


@pytest.fixture()
def policy_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "policies"
    shutil.copytree(DEFAULT_DIR, dst, ignore=shutil.ignore_patterns("*.py", "__pycache__", "*.md"))
    return dst


def test_the_twelve_demo_roles(engine: PolicyEngine) -> None:
    assert engine.roles() == sorted([
        "committee_worker", "committee_secretary", "subdistrict_officer", "district_analyst",
        "civil_affairs_officer", "family_doctor", "inspector", "culture_staff", "auditor",
        "dept_admin", "developer", "resident"])


def test_acceptance_committee_worker(engine: PolicyEngine) -> None:
    assert engine.decide(["committee_worker"], None, "Person.idNumber").effect == "mask"
    assert engine.decide(["committee_worker"], None, "Person.phone").effect == "allow"
    for purpose in [None, *engine.purposes()]:
        assert engine.decide(["committee_worker"], purpose, "Person.health").effect == "deny"
        assert engine.decide(["committee_worker"], purpose, "HealthRecord.familyDoctor").effect == "deny"


def test_acceptance_developer_reaches_five_departments(engine: PolicyEngine,
                                                       field_meta: dict[str, Any]) -> None:
    visible = {c for c in field_meta if c.startswith("Person.")
               and engine.decide(["developer"], None, c).visible}
    assert {"Person.house", "Person.household", "Person.welfare", "Person.employment",
            "Person.veteran"} <= visible
    assert {field_meta[c]["department"] for c in visible} >= {
        "population", "housing", "civil_affairs", "hr_social", "veterans"}
    assert not visible & {"Person.health", "Person.disability", "Person.education"}
    for coordinate, meta in field_meta.items():  # nothing with a mask is ever shown in full
        if meta["mask"]:
            assert engine.decide(["developer"], None, coordinate).effect != "allow", coordinate
    assert engine.can_use(["developer"], "Gateway.trace")


def test_acceptance_district_analyst(engine: PolicyEngine) -> None:
    for root in ["Query.persons", "Query.person", "Query.houses", "Query.shops", "Query.node"]:
        d = engine.decide(["district_analyst"], None, root)
        assert (d.effect, d.reason) == ("deny", "denied_by_rule")
    assert engine.decide(["district_analyst"], None, "Query.stats").effect == "allow"
    d = engine.decide(["district_analyst"], None, "Person.gender")
    assert (d.effect, d.reason) == ("aggregate", "aggregate_only")


def test_reason_codes_and_rules(engine: PolicyEngine) -> None:
    d = engine.explain("committee_worker", None, "Person.idNumber")
    assert (d.reason, d.mask, d.rule) == ("masked", "id_number",
                                          "p, committee_worker, Person.idNumber, read_masked, allow")
    assert engine.explain("family_doctor", None, "HealthRecord.diabetes").reason == "purpose_required"
    assert engine.explain("family_doctor", "inspection", "HealthRecord.diabetes").reason == "purpose_not_allowed"
    d = engine.explain("family_doctor", "health_service", "HealthRecord.diabetes")
    assert (d.effect, d.reason, d.purpose) == ("allow", "granted", "health_service")
    assert "p2, family_doctor, health, health_service" in d.rule


def test_standing_purpose_applies_without_declaration(engine: PolicyEngine) -> None:
    d = engine.decide(["committee_worker"], None, "House.address")
    assert (d.effect, d.purpose) == ("allow", "resident_service")
    # but never for health, disability or minors
    assert engine.decide(["committee_worker"], None, "Disability.grade").reason == "purpose_required"
    assert engine.decide(["committee_worker"], "elderly_care_visit", "Disability.grade").effect == "allow"


def test_deny_overrides_allow_across_roles(engine: PolicyEngine) -> None:
    assert engine.decide(["family_doctor"], "health_service", "HealthRecord.diabetes").effect == "allow"
    d = engine.decide(["family_doctor", "auditor"], "health_service", "HealthRecord.diabetes")
    assert (d.effect, d.reason) == ("deny", "denied_by_rule")
    assert "p, auditor, HealthRecord.*, *, deny" in d.rule
    # a deny on one action only: developer's read-deny on *.idNumber beats the secretary's read
    assert engine.decide(["committee_secretary"], None, "Person.idNumber").effect == "allow"
    assert engine.decide(["committee_secretary", "developer"], None, "Person.idNumber").effect == "mask"


def test_most_permissive_of_several_roles(engine: PolicyEngine) -> None:
    assert engine.decide(["culture_staff", "committee_worker"], None, "Person.phone").effect == "allow"
    # ...but the analyst's read-deny on Person.* still wins: only the aggregate is left
    assert engine.decide(["district_analyst", "committee_worker"], None, "Person.gender").effect == "aggregate"
    assert engine.decide(["committee_worker", "committee_secretary"], None, "Person.idNumber").effect == "allow"


def test_read_masked_without_a_mask_is_denied(engine: PolicyEngine) -> None:
    d = engine.decide(["developer"], None, "Education.stage")  # denied outright anyway
    assert d.effect == "deny"
    d = engine.decide(["culture_staff"], None, "EventRegistration.idNumber")
    assert d.effect == "mask"
    bare = PolicyEngine(field_meta={"EventRegistration.idNumber": {"sensitive": "identity", "mask": None}})
    d = bare.decide(["culture_staff"], None, "EventRegistration.idNumber")
    assert (d.effect, d.reason) == ("deny", "denied_by_rule")  # read denied by guardrail, mask impossible
    d = bare.decide(["developer"], None, "Welfare.idNumber")
    assert (d.effect, d.reason) == ("deny", "denied_by_rule")


def test_unknown_purpose_is_an_error(engine: PolicyEngine) -> None:
    with pytest.raises(UnknownPurposeError) as err:
        engine.decide(["committee_worker"], "curiosity", "Person.name")
    assert err.value.code == "UNKNOWN_PURPOSE"
    engine.check_purpose(None)
    engine.check_purpose("subsidy_review")


def test_new_coordinate_is_denied_by_default(engine: PolicyEngine) -> None:
    for role in engine.roles():
        d = engine.decide([role], None, "Person.shoeSize")
        if role in ("developer", "subdistrict_officer", "district_analyst", "auditor", "inspector"):
            continue  # wildcard grants/denies on Person.* decide these; checked below
        assert (d.effect, d.reason, d.rule) == ("deny", "no_grant", "default: no rule grants it")
    for role in engine.roles():
        assert engine.decide([role], None, "Pet.name").effect == "deny"
        assert not engine.can_use([role], "Gateway.shutdown")
    assert engine.decide(["nobody"], None, "Node.id").effect == "deny"


def test_casbin_calls_do_not_grow_on_repeated_decisions(engine: PolicyEngine) -> None:
    engine.decide(["committee_worker"], None, "Person.phone")
    engine.decide(["family_doctor"], "health_service", "HealthRecord.diabetes")
    engine.can_use(["developer"], "Gateway.trace")
    calls = engine.casbin_calls
    assert calls > 0
    for _ in range(100):
        engine.decide(["committee_worker"], None, "Person.phone")
        engine.decide(["family_doctor"], "health_service", "HealthRecord.diabetes")
        engine.can_use(["developer"], "Gateway.trace")
    assert engine.casbin_calls == calls
    engine.decide(["committee_worker", "committee_worker"], None, "Person.phone")  # same role set
    assert engine.casbin_calls == calls


def test_version_is_a_digest_of_the_files(policy_copy: Path, engine: PolicyEngine) -> None:
    same = PolicyEngine(policy_copy)
    assert same.version == engine.version and len(engine.version) == 12
    with (policy_copy / "events.csv").open("a", encoding="utf-8") as fh:
        fh.write("# a comment still changes the version\n")
    assert PolicyEngine(policy_copy).version != engine.version


@pytest.mark.parametrize(("line", "why"), [
    ("p, committee_worker, Person.name, read", "expected"),
    ("p, committe_worker, Person.name, read, allow", "not declared"),
    ("p, committee_worker, Person name, read, allow", "coordinate"),
    ("p, committee_worker, Person.name, peek, allow", "action"),
    ("p, committee_worker, Person.name, read, maybe", "effect"),
    ("p, committee_worker, Person.name, *, allow", "only allowed in deny"),
    ("p, committee_worker, Gateway.trace, read, allow", "use"),
    ("p, committee_worker, Person.name, use, allow", "use"),
    ("p2, committee_worker, identity, subsidy_review", "category"),
    ("p2, committee_worker, health, curiosity", "catalogue"),
    ("standing, committee_worker, curiosity", "catalogue"),
    ("purpose, subsidy_review, twice", "declared twice"),
    ("q, committee_worker, Person.name", "unknown line type"),
    ("duty, committee_worker", "expected"),
    ("duty, nobody, watches", "not declared"),
    ("duty, committee_worker, twice", "declared twice"),
])
def test_bad_policy_line_names_file_and_line(policy_copy: Path, line: str, why: str) -> None:
    path = policy_copy / "zz_bad.csv"
    path.write_text("# a comment\n\n" + line + "\n", encoding="utf-8")
    with pytest.raises(PolicyFileError) as err:
        PolicyEngine(policy_copy)
    assert err.value.code == "POLICY_INVALID"
    assert err.value.details == {"file": "zz_bad.csv", "line": 3}
    assert why in err.value.message


def test_missing_model_or_policies(tmp_path: Path, policy_copy: Path) -> None:
    with pytest.raises(PolicyFileError):
        PolicyEngine(tmp_path)
    for csv_file in policy_copy.glob("*.csv"):
        csv_file.unlink()
    with pytest.raises(PolicyFileError):
        PolicyEngine(policy_copy)
