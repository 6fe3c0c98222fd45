"""The fixed vocabulary of value transforms a spec may declare.

A field's transforms are compiled once, at start-up, into a single callable; a row is
converted by calling it per mapped column. Each transform also knows its output type
(checked against the schema at validation time) and, where it can, how to turn a
canonical value back into the department's raw value so filters push down.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

Fn = Callable[[Any], Any]
TRUE_WORDS = frozenset({"1", "y", "yes", "true", "t", "是", "有"})
FALSE_WORDS = frozenset({"0", "n", "no", "false", "f", "否", "无"})
NO_ARG = ("strip", "upper", "lower", "int", "float", "bool", "id_number", "phone", "empty_null", "str")
WITH_ARG = ("date", "map", "prefix", "default")


class TransformError(ValueError):
    """Raised while compiling a transform list; the registry turns it into a SpecError."""


@dataclass(frozen=True)
class Step:
    fn: Fn
    out: str | None  # output scalar type, None = unchanged
    invert: Callable[[Any], list[Any]] | None  # canonical value -> raw values
    # for range filters and grouping: raw values sort like canonical ones
    order_preserving: bool = True


def _none_safe(f: Fn) -> Fn:
    def g(v: Any) -> Any:
        return None if v is None else f(v)
    return g


def _to_bool(v: Any) -> bool | None:
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in TRUE_WORDS:
        return True
    if s in FALSE_WORDS:
        return False
    return None


def _date(formats: list[str]) -> Fn:
    def parse(v: Any) -> dt.date | None:
        if isinstance(v, dt.datetime):
            return v.date()
        if isinstance(v, dt.date):
            return v
        s = str(v).strip()
        if not s:
            return None
        for f in formats:
            try:
                return dt.datetime.strptime(s, f).date()
            except ValueError:
                continue
        return None
    return parse


def _phone(v: Any) -> str | None:
    digits = re.sub(r"\D", "", str(v))
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits or None


def _id_number(v: Any) -> str | None:
    s = str(v).strip().upper()
    return s or None


def _int(v: Any) -> int | None:
    try:
        return int(float(str(v).strip()))
    except ValueError:
        return None


def _float(v: Any) -> float | None:
    try:
        return float(str(v).strip())
    except ValueError:
        return None


def _step(name: str, arg: Any) -> Step:
    if name == "strip":
        return Step(_none_safe(lambda v: str(v).strip()), "str", lambda c: [c])
    if name == "str":
        return Step(_none_safe(str), "str", lambda c: [c])
    if name == "upper":
        return Step(_none_safe(lambda v: str(v).upper()), "str", lambda c: [c, str(c).lower()])
    if name == "lower":
        return Step(_none_safe(lambda v: str(v).lower()), "str", lambda c: [c, str(c).upper()])
    if name == "id_number":
        return Step(_none_safe(_id_number), "str", lambda c: sorted({c, str(c).lower()}))
    if name == "phone":
        return Step(_none_safe(_phone), "str", None)
    if name == "empty_null":
        return Step(lambda v: None if v is None or str(v).strip() == "" else v, None, lambda c: [c])
    if name == "int":
        return Step(_none_safe(_int), "int", lambda c: [c])
    if name == "float":
        return Step(_none_safe(_float), "float", lambda c: [c])
    if name == "bool":
        def inv_bool(c: Any) -> list[Any]:
            words = TRUE_WORDS if c else FALSE_WORDS
            return sorted({w for x in words for w in (x, x.upper(), x.capitalize())})
        return Step(_none_safe(_to_bool), "bool", inv_bool, order_preserving=False)
    if name == "date":
        formats = [arg] if isinstance(arg, str) else arg
        if not isinstance(formats, list) or not formats or not all(isinstance(f, str) for f in formats):
            raise TransformError("date takes a format or a list of strptime formats")
        single = len(formats) == 1 and formats[0] in ("%Y%m%d", "%Y-%m-%d")
        inv = (lambda c: [c.strftime(formats[0])]) if single else None
        return Step(_date(formats), "date", inv, order_preserving=single)
    if name == "map":
        if not isinstance(arg, dict) or not arg:
            raise TransformError("map takes a non-empty mapping of raw value -> canonical value")
        table = {str(k).strip(): v for k, v in arg.items()}
        types = {type(v).__name__ for v in table.values()}
        if len(types) != 1:
            raise TransformError(f"map values must share one type, got {sorted(types)}")
        out = {"str": "str", "int": "int", "bool": "bool", "float": "float"}.get(types.pop())
        if out is None:
            raise TransformError("map values must be strings, integers, numbers or booleans")
        raw_of: dict[Any, list[Any]] = {}
        for k, v in arg.items():
            raw_of.setdefault(v, []).append(k)
        return Step(lambda v: table.get(str(v).strip()) if v is not None else None, out,
                    lambda c: list(raw_of.get(c, [])), order_preserving=False)
    if name == "prefix":
        p = str(arg)
        return Step(_none_safe(lambda v: p + str(v).strip()), "str",
                    lambda c: [str(c)[len(p):]] if str(c).startswith(p) else [])
    if name == "default":
        return Step(lambda v: arg if v is None or v == "" else v, None, None, order_preserving=False)
    raise TransformError(f"unknown transform {name!r}; known: {', '.join(NO_ARG + WITH_ARG)}")


def parse_step(item: Any) -> Step:
    if isinstance(item, str):
        if item in WITH_ARG:
            raise TransformError(f"transform {item!r} needs an argument, e.g. {{{item}: ...}}")
        return _step(item, None)
    if isinstance(item, dict) and len(item) == 1:
        (name, arg), = item.items()
        if name in NO_ARG:
            return _step(name, None)
        return _step(str(name), arg)
    raise TransformError("a transform is a name or a one-key mapping {name: argument}")


@dataclass(frozen=True)
class Compiled:
    fn: Fn | None  # None = identity (raw value passes through)
    out: str  # scalar type the field ends up with
    invert: Callable[[Any], list[Any]] | None  # canonical -> raw candidates; None = cannot push down
    order_preserving: bool

    def apply(self, v: Any) -> Any:
        return v if self.fn is None else self.fn(v)


def compile_steps(items: Iterable[Any]) -> Compiled:
    steps = [parse_step(i) for i in items]
    if not steps:
        return Compiled(None, "str", lambda c: [c], True)
    out = "str"
    for s in steps:
        out = s.out or out
    fns = [s.fn for s in steps]

    def chain(v: Any) -> Any:
        for f in fns:
            v = f(v)
        return v

    inverts = [s.invert for s in steps]
    invert: Callable[[Any], list[Any]] | None
    if all(i is not None for i in inverts):
        def invert(c: Any) -> list[Any]:
            vals = [c]
            for inv in reversed(inverts):
                assert inv is not None
                vals = [r for v in vals for r in inv(v)]
            return vals
    else:
        invert = None
    return Compiled(fns[0] if len(fns) == 1 else chain, out, invert,
                    all(s.order_preserving for s in steps))
