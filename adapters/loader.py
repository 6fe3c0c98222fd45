"""Reads one department's spec file strictly: YAML -> env substitution -> pydantic -> declarations -> mapping.

Every problem is found, not only the first: each names the department, the spec path,
the offending key (as a dotted path) and its line, with a hint for the fix (see
adapters/problems.py). A spec's entities are checked against the core and the types the
spec declares itself (adapters/declare.py); clashes between specs are left to
adapters/clashes.py.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from adapters.base import Catalogue, FieldType
from adapters.catalogue import Core, core_of
from adapters.declare import check_enums, check_types
from adapters.mapping import EntityMap, MappingError
from adapters.problems import Loc, Problem, SpecSource, ordered, pydantic_problems, spec_error
from adapters.spec import (
    CONNECTIONS,
    DepartmentSpec,
    EntitySpec,
    EnumDecl,
    HttpWrite,
    SqlWrite,
    Strict,
    TypeDecl,
)

SPEC_NAMES = ("spec.yaml", "spec.yml")
# a default holds no "}" and no "$": ${A:-${B:-x}} resolves ${B:-x} first, then ${A:-...} (substitute_env)
NESTING = 4  # levels of ${A:-${B:-...}} resolved
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}$]*))?\}")
PIECES: dict[str, type[BaseModel]] = {"entities": EntitySpec, "types": TypeDecl, "enums": EnumDecl}
KINDS = ("sql", "http", "ledger", "class")


class LoadedSpec:
    def __init__(self, path: Path, spec: DepartmentSpec, connection: Strict | None,
                 maps: dict[str, EntityMap], source: SpecSource | None = None,
                 declared: Mapping[str, Mapping[str, FieldType]] | None = None) -> None:
        self.path = path
        self.spec = spec
        self.connection = connection
        self.maps = maps
        self.source = source
        self.declared: Mapping[str, Mapping[str, FieldType]] = declared or {}  # declared type -> scalar fields

    @property
    def name(self) -> str:
        return self.spec.department

    def line(self, loc: Loc) -> int | None:
        """The line of a key of this spec (``("entities", "Welfare", "fields", "idNumber")``)."""
        return self.source.line(loc) if self.source is not None else None

    def problem(self, loc: Loc, message: str, **extra: Any) -> Problem:
        src = self.source or SpecSource(self.name, self.path)
        return src.problem(loc, message, **extra)


def substitute_env(value: Any, env: Mapping[str, str], loc: tuple[Any, ...] = (),
                   missing: list[tuple[str, Loc]] | None = None) -> Any:
    """Replace ${NAME} and ${NAME:-default} (nested: ${A:-${B:-x}}) in every string. A missing NAME raises
    KeyError((name, loc)),
    or, given a ``missing`` list, is recorded there and replaced by an empty string."""
    if isinstance(value, str):
        def repl(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            if missing is None:
                raise KeyError((name, loc))
            missing.append((name, loc))
            return ""
        for _ in range(NESTING):  # innermost first, so a default may itself be ${NAME:-default}
            done = _ENV.sub(repl, value)
            if done == value:
                break
            value = done
        return value
    if isinstance(value, dict):
        return {k: substitute_env(v, env, (*loc, k), missing) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute_env(v, env, (*loc, i), missing) for i, v in enumerate(value)]
    return value


def load_spec(path: Path, catalogue: Catalogue, env: Mapping[str, str] | None = None,
              elsewhere: Mapping[str, str] | None = None) -> LoadedSpec:
    """The loaded spec, or a SpecError listing every problem of the file."""
    loaded, problems = read_spec(path, catalogue, env, elsewhere)
    if problems or loaded is None:
        raise spec_error(ordered(problems))
    return loaded


def read_spec(path: Path, catalogue: Catalogue, env: Mapping[str, str] | None = None,
              elsewhere: Mapping[str, str] | None = None) -> tuple[LoadedSpec | None, list[Problem]]:
    """(the spec, or None when it has problems; every problem). ``elsewhere``: type -> the other
    department declaring it (so a spec supplying someone else's type is told whose it is)."""
    env = os.environ if env is None else env
    src = SpecSource(path.parent.name, path)
    text = path.read_text(encoding="utf-8")
    try:
        src.node = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        return None, [Problem(src.department, str(path), None, mark.line + 1 if mark else None,
                              f"not valid YAML: {getattr(e, 'problem', e)}")]
    if not isinstance(raw, dict):
        src.add((), "the spec must be a mapping with department, title, kind, connection, entities")
        return None, src.problems
    missing: list[tuple[str, Loc]] = []
    raw = substitute_env(raw, env, missing=missing)
    for name, loc in missing:
        src.add(loc, f"environment variable {name} is not set (set it, or write ${{{name}:-default}})", env=name)
    head, parts = _structure(raw, src)
    if isinstance(raw.get("department"), str) and raw["department"] != src.department:
        src.add(("department",), f"department {raw['department']!r} must equal its folder name {src.department!r}")
    kind = raw.get("kind") if raw.get("kind") in KINDS else None
    base_kind = raw.get("reports_kind") if kind == "class" else kind
    connection = _connection(base_kind, raw.get("connection") or {}, src) if head is not None else None
    core = core_of(catalogue)
    enums = check_enums(parts["enums"], core, src)
    supplied = set(raw.get("entities") or ()) if isinstance(raw.get("entities"), dict) else set()
    declared = check_types(parts["types"], enums, parts["entities"], supplied, core, src)
    maps = _maps(parts["entities"], core, declared, base_kind or kind, src, elsewhere or {})
    if src.problems or head is None:
        return None, src.problems
    spec = head.model_copy(update=parts)
    return LoadedSpec(path, spec, connection, maps, src, declared), []


def _structure(raw: dict[str, Any], src: SpecSource) -> tuple[DepartmentSpec | None, dict[str, dict[str, Any]]]:
    """Top level, then each entity, type and enum on its own, so one bad piece hides no other."""
    top = dict(raw)
    parts: dict[str, dict[str, Any]] = {}
    for key, model in PIECES.items():
        value = top.pop(key, None)
        parts[key] = {}
        if value is None:
            continue
        if not isinstance(value, dict):
            src.add((key,), f"{key} must be a mapping of names")
            continue
        for name, item in value.items():
            try:
                parts[key][str(name)] = model.model_validate(item)
            except ValidationError as e:
                src.problems.extend(pydantic_problems(e, src, (key, name)))
                salvaged = _without_unknown_keys(model, item, e)
                if salvaged is not None:  # checked further, so its other problems are found too
                    parts[key][str(name)] = salvaged
    if "entities" in raw:
        top["entities"] = {}
    try:
        return DepartmentSpec.model_validate(top), parts
    except ValidationError as e:
        src.problems.extend(pydantic_problems(e, src))
        return None, parts


def _without_unknown_keys(model: type[BaseModel], item: Any, e: ValidationError) -> BaseModel | None:
    """The item validated without its unknown keys, when those are all that is wrong with it."""
    errs = e.errors()
    if not isinstance(item, dict) or any(x["type"] != "extra_forbidden" or len(x["loc"]) != 1 for x in errs):
        return None
    unknown = {x["loc"][0] for x in errs}
    try:
        return model.model_validate({k: v for k, v in item.items() if k not in unknown})
    except ValidationError:
        return None


def _connection(base_kind: str | None, raw: Any, src: SpecSource) -> Strict | None:
    if base_kind not in CONNECTIONS:
        return None
    try:
        return CONNECTIONS[base_kind].model_validate(raw)
    except ValidationError as e:
        src.problems.extend(pydantic_problems(e, src, ("connection",)))
        return None


def _maps(entities: Mapping[str, EntitySpec], core: Core, declared: Mapping[str, Mapping[str, FieldType]],
          kind: str | None, src: SpecSource, elsewhere: Mapping[str, str]) -> dict[str, EntityMap]:
    maps: dict[str, EntityMap] = {}
    for entity, es in entities.items():
        loc = ("entities", entity)
        types = core.types.get(entity, declared.get(entity))
        if types is None:
            if entity in elsewhere:
                src.add(loc, f"{entity} is declared by department {elsewhere[entity]!r}; a department supplies "
                        "core types and the types it declares itself (see docs/adapter-spec.md)",
                        other_department=elsewhere[entity])
            else:
                src.add(loc, f"{entity!r} is not a schema type; known: the core types "
                        f"({', '.join(sorted(core))}) and the types this spec declares under types:")
            continue
        try:
            maps[entity] = EntityMap(entity, es, types)
        except MappingError as e:
            for m in e.all:
                src.add((*loc, *m.loc), str(m))
        if kind is not None:
            _check_kind_keys(kind, entity, es, src)
    return maps


def _check_kind_keys(kind: str, entity: str, es: EntitySpec, src: SpecSource) -> None:
    needs = {"sql": ("table", "select"), "http": ("list_",), "ledger": ("file",)}.get(kind)
    if needs is None:
        return
    if not any(getattr(es, k) is not None for k in needs):
        src.add(("entities", entity), f"a {kind} entity needs {' or '.join(n.rstrip('_') for n in needs)}")
    foreign = {"sql": ("get", "batch", "list_", "aggregate", "file", "sheet"),
               "http": ("table", "select", "file", "sheet"),
               "ledger": ("table", "select", "get", "batch", "list_", "aggregate")}[kind]
    for k in foreign:
        if getattr(es, k) is not None:
            src.add(("entities", entity, k.rstrip("_")), f"key {k.rstrip('_')!r} does not apply to a {kind} department")
    want = {"sql": SqlWrite, "http": HttpWrite}.get(kind)
    if es.write is not None and (want is None or not isinstance(es.write, want)):
        src.add(("entities", entity, "write"), {"sql": "a sql entity's write names its request_key column "
                                                       "(and the fields it fills itself)",
                                                "http": "an http entity's write names the path it POSTs to "
                                                        "(and item, header, filled)"}.get(kind, f"a {kind} department is "
                                                                                       "read-only: it accepts no writes"))
    if kind == "sql" and es.write is not None and es.table is None:
        src.add(("entities", entity, "write"), "a sql entity accepts writes into a table, not a select")
    if kind == "http" and isinstance(es.filters, list) and es.filters:
        src.add(("entities", entity, "filters"), "http filters map each field to its query parameter: {field: param}")


def find_spec(folder: Path) -> Path | None:
    for n in SPEC_NAMES:
        if (folder / n).is_file():
            return folder / n
    return None
