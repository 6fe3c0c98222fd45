"""Reads one department's spec file strictly: YAML -> env substitution -> pydantic -> mapping.

Every failure is a SpecError whose details name the department, the spec path, the
offending key (as a dotted path) and its line, plus a hint for the fix.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from adapters.base import Catalogue
from adapters.mapping import EntityMap, MappingError
from adapters.spec import CONNECTIONS, DepartmentSpec, Strict
from common.errors import SpecEnvError, SpecError

SPEC_NAMES = ("spec.yaml", "spec.yml")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class LoadedSpec:
    def __init__(self, path: Path, spec: DepartmentSpec, connection: Strict | None,
                 maps: dict[str, EntityMap]) -> None:
        self.path = path
        self.spec = spec
        self.connection = connection
        self.maps = maps

    @property
    def name(self) -> str:
        return self.spec.department


def _first(e: ValidationError) -> Any:
    """The error to report: an unknown key first, since a misspelt key also leaves its right spelling missing."""
    errs = e.errors()
    return next((x for x in errs if x["type"] == "extra_forbidden"), errs[0])


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == str(part):
                    line = k.start_mark.line + 1
                    node = v
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def substitute_env(value: Any, env: Mapping[str, str], loc: tuple[Any, ...] = ()) -> Any:
    """Replace ${NAME} and ${NAME:-default} in every string; a missing NAME raises KeyError(loc)."""
    if isinstance(value, str):
        def repl(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            raise KeyError((name, loc))
        return _ENV.sub(repl, value)
    if isinstance(value, dict):
        return {k: substitute_env(v, env, (*loc, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute_env(v, env, (*loc, i)) for i, v in enumerate(value)]
    return value


def load_spec(path: Path, catalogue: Catalogue, env: Mapping[str, str] | None = None) -> LoadedSpec:
    env = os.environ if env is None else env
    folder = path.parent.name
    text = path.read_text(encoding="utf-8")

    def fail(msg: str, loc: tuple[Any, ...] = (), node: yaml.Node | None = None, err: type[SpecError] = SpecError,
             **extra: Any) -> SpecError:
        key = ".".join(str(p) for p in loc) or None
        line = _line_of(node, loc) if node is not None else None
        where = f"{path}" + (f":{line}" if line else "")
        return err(f"department {folder!r}: {where}: " + (f"{key}: " if key else "") + msg,
                   department=folder, path=str(path), key=key, line=line, **extra)

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise SpecError(f"department {folder!r}: {path}: not valid YAML: {getattr(e, 'problem', e)}",
                        department=folder, path=str(path), line=mark.line + 1 if mark else None) from None
    if not isinstance(raw, dict):
        raise fail("the spec must be a mapping with department, title, kind, connection, entities", (), node)
    try:
        raw = substitute_env(raw, env)
    except KeyError as e:
        name, loc = e.args[0]
        raise fail(f"environment variable {name} is not set (set it, or write ${{{name}:-default}})",
                   tuple(loc), node, SpecEnvError, env=name) from None
    try:
        spec = DepartmentSpec.model_validate(raw)
    except ValidationError as e:
        err = _first(e)
        loc = tuple(err["loc"])
        if err["type"] == "extra_forbidden":
            msg = f"unknown key {loc[-1]!r} (misspelt? see docs/adapter-spec.md for the allowed keys)"
        else:
            msg = err["msg"]
        raise fail(msg, loc, node) from None
    if spec.department != folder:
        raise fail(f"department {spec.department!r} must equal its folder name {folder!r}", ("department",), node)
    connection: Strict | None = None
    base_kind = spec.reports_kind if spec.kind == "class" else spec.kind
    if base_kind in CONNECTIONS:
        try:
            connection = CONNECTIONS[base_kind].model_validate(spec.connection)
        except ValidationError as e:
            err = _first(e)
            loc = ("connection", *err["loc"])
            msg = f"unknown key {loc[-1]!r}" if err["type"] == "extra_forbidden" else err["msg"]
            raise fail(msg, loc, node) from None
    maps: dict[str, EntityMap] = {}
    for entity, es in spec.entities.items():
        if entity not in catalogue:
            raise fail(f"{entity!r} is not a schema type; known: {', '.join(sorted(catalogue))}",
                       ("entities", entity), node)
        try:
            maps[entity] = EntityMap(entity, es, catalogue[entity])
        except MappingError as e:
            raise fail(str(e), ("entities", entity, *e.loc), node) from None
        _check_kind_keys(base_kind or spec.kind, entity, es, fail, node)
    return LoadedSpec(path, spec, connection, maps)


def _check_kind_keys(kind: str, entity: str, es: Any, fail: Any, node: yaml.Node) -> None:
    needs = {"sql": ("table", "select"), "http": ("list_",), "ledger": ("file",)}.get(kind)
    if needs is None:
        return
    if not any(getattr(es, k) is not None for k in needs):
        raise fail(f"a {kind} entity needs {' or '.join(n.rstrip('_') for n in needs)}", ("entities", entity), node)
    foreign = {"sql": ("get", "batch", "list_", "file", "sheet"), "http": ("table", "select", "file", "sheet"),
               "ledger": ("table", "select", "get", "batch", "list_")}[kind]
    for k in foreign:
        if getattr(es, k) is not None:
            raise fail(f"key {k.rstrip('_')!r} does not apply to a {kind} department", ("entities", entity, k.rstrip('_')), node)
    if kind == "http" and isinstance(es.filters, list) and es.filters:
        raise fail("http filters map each field to its query parameter: {field: param}",
                   ("entities", entity, "filters"), node)


def find_spec(folder: Path) -> Path | None:
    for n in SPEC_NAMES:
        if (folder / n).is_file():
            return folder / n
    return None
