"""Tags: named sets of persons or houses, declared in ``tags/*.yaml`` over the schema's fields.

A tag file is a list of tags::

    - name: elder-living-alone          # lower-case, digits and '-'
      subject: Person                   # Person or House
      title: 独居老人
      description: Residents aged 80 or more who live alone.
      owner: civil_affairs              # who answers for the definition
      where: age >= 80 and welfare.livingAlone

A definition (``where``) is a boolean expression: ``and``, ``or``, ``not``, parentheses, over atoms:

=============================================  ===============================================
``age >= 80``, ``gender = FEMALE``              a field of the subject (``= != < <= > >=``)
``welfare.livingAlone``                         a Boolean field, true (one record per subject)
``welfare.careLevel = SEVERE``                  a field of the subject's record in a department
``disability``                                  has a record at all
``any statusHistory.status = VACANT``           one of its records (a list relation) matches
``latest statusHistory.status = VACANT``        its newest record (lists ordered newest first)
``visits within 90 days``                       one of its records is dated in the last N days
``tag elder-living-alone``                      another tag of the same subject
``any residents tag elder-living-alone``        a house with a resident in a person tag
=============================================  ===============================================

Every atom names the schema coordinates it reads (``Person.welfare``, ``Welfare.livingAlone``):
a caller may use a tag only when it may read each of them in full (resolvers/tags.py). The file
is checked against the schema when loaded: an unknown field, relation, enum value or tag, a
cycle of tags, or a comparison that cannot hold is a ``SPEC_INVALID`` error naming the tag.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal, TypeAlias

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.base import FieldType
from common.errors import SpecError
from schema.model import SchemaModel, default_model

TAGS_DIR = Path(__file__).resolve().parent.parent / "tags"
RULES_DIR = Path(__file__).resolve().parent.parent / "eligibility"
RULE_PREFIX = "rule:"  # a rule's residents are the tag rule:<name>
SUBJECTS = ("Person", "House")
NAME = r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*"
OPS = ("<=", ">=", "!=", "=", "<", ">")
TOKEN = re.compile(r"\s*(?:(?P<op><=|>=|!=|=|<|>)|(?P<paren>[()])|(?P<num>\d+)|(?P<word>[A-Za-z_][\w.\-]*))")


class TagSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=f"^{NAME}$", max_length=64)
    subject: Literal["Person", "House"]
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    where: str = Field(min_length=1)


class RuleSpec(BaseModel):
    """An eligibility rule (``eligibility/*.yaml``): its residents qualify and do not receive the benefit."""
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=f"^{NAME}$", max_length=64)
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    benefit: str = Field(min_length=1)
    qualifies: str = Field(min_length=1)
    receives: str = Field(min_length=1)

    def as_tag(self) -> TagSpec:
        return TagSpec(name=self.name, subject="Person", title=self.title, description=self.description,
                       owner=self.owner, where=f"({self.qualifies}) and not ({self.receives})")


# --- the parsed definition ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Own:
    """A field of the subject compared (``op`` None: a Boolean field, true)."""
    field: str
    op: str | None
    value: Any


@dataclass(frozen=True)
class Linked:
    """The subject's records through ``relation``: ``quant`` one (its only record), any, latest or within
    (dated in the last ``value`` days, on ``field``); ``field`` None with ``quant`` one: has a record."""
    relation: str
    quant: Literal["one", "any", "latest", "within"]
    field: str | None
    op: str | None
    value: Any


@dataclass(frozen=True)
class TagRef:
    name: str


@dataclass(frozen=True)
class ResidentTag:
    """A house with a resident in the person tag ``name``."""
    name: str


@dataclass(frozen=True)
class Not:
    arg: Expr


@dataclass(frozen=True)
class And:
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    args: tuple[Expr, ...]


Atom: TypeAlias = Own | Linked | TagRef | ResidentTag
Expr: TypeAlias = Atom | Not | And | Or


@dataclass(frozen=True)
class Tag:
    spec: TagSpec
    expr: Expr
    reads: frozenset[str]  # coordinates read, with those of the tags it names
    uses: tuple[str, ...]  # tags it names (persons' tags for ResidentTag), in order of appearance

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def subject(self) -> str:
        return self.spec.subject


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            m = TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                raise ValueError(f"cannot read {text[pos:pos + 20]!r}")
            kind = m.lastgroup
            assert kind is not None
            self.tokens.append((kind, m.group(kind)))
            pos = m.end()
        self.i = 0

    def peek(self) -> str | None:
        return self.tokens[self.i][1] if self.i < len(self.tokens) else None

    def take(self, kind: str | None = None) -> str:
        if self.i >= len(self.tokens):
            raise ValueError("the definition ends too soon")
        k, v = self.tokens[self.i]
        if kind is not None and k != kind:
            raise ValueError(f"expected a {kind}, found {v!r}")
        self.i += 1
        return v

    def parse(self) -> Expr:
        e = self.disjunction()
        if self.i != len(self.tokens):
            raise ValueError(f"unexpected {self.peek()!r}")
        return e

    def disjunction(self) -> Expr:
        args = [self.conjunction()]
        while self.peek() == "or":
            self.take()
            args.append(self.conjunction())
        return args[0] if len(args) == 1 else Or(tuple(args))

    def conjunction(self) -> Expr:
        args = [self.unary()]
        while self.peek() == "and":
            self.take()
            args.append(self.unary())
        return args[0] if len(args) == 1 else And(tuple(args))

    def unary(self) -> Expr:
        t = self.peek()
        if t == "not":
            self.take()
            return Not(self.unary())
        if t == "(":
            self.take()
            e = self.disjunction()
            if self.take() != ")":
                raise ValueError("a parenthesis is not closed")
            return e
        return self.atom()

    def atom(self) -> Atom:
        word = self.take("word")
        if word == "tag":
            return TagRef(self.take("word"))
        if word in ("any", "latest"):
            path = self.take("word")
            if word == "any" and self.peek() == "tag":
                self.take()
                return ResidentTag(f"{path}:{self.take('word')}")
            rel, _, fld = path.partition(".")
            if not fld:
                raise ValueError(f"{word} needs a relation and a field, e.g. {word} {path}.status = X")
            op, value = self.comparison()
            return Linked(rel, word, fld, op, value)  # type: ignore[arg-type]
        if self.peek() == "within":
            self.take()
            days = int(self.take("num"))
            if self.take("word") != "days":
                raise ValueError("within N days")
            return Linked(word, "within", None, None, days)
        rel, dot, fld = word.partition(".")
        op, value = self.comparison()
        if dot:
            return Linked(rel, "one", fld, op, value)
        return Own(word, op, value)

    def comparison(self) -> tuple[str | None, Any]:
        if self.peek() not in OPS:
            return None, None
        op = self.take("op")
        kind, v = self.tokens[self.i] if self.i < len(self.tokens) else ("", "")
        self.take()
        if kind == "num":
            return op, int(v)
        if kind == "word" and v in ("true", "false"):
            return op, v == "true"
        if kind == "word":
            return op, v
        raise ValueError(f"a value must follow {op}")


def parse(text: str) -> Expr:
    """The expression of a definition (``ValueError`` with the reason when it is not one)."""
    return _Parser(text).parse()


def atoms(e: Expr) -> Iterable[Atom]:
    if isinstance(e, Not):
        yield from atoms(e.arg)
    elif isinstance(e, And | Or):
        for a in e.args:
            yield from atoms(a)
    else:
        yield e


# --- checking against the schema --------------------------------------------------------------------------
class _Checker:
    def __init__(self, model: SchemaModel, specs: Mapping[str, TagSpec]) -> None:
        self.model = model
        self.specs = specs
        self.done: dict[str, Tag] = {}
        self.active: list[str] = []

    def fail(self, name: str, why: str) -> SpecError:
        return SpecError(f"tag {name}: {why}", tag=name)

    def field_type(self, type_name: str, field: str) -> FieldType:
        ft = self.model.catalogue.get(type_name, {}).get(field)
        if ft is None:
            raise ValueError(f"{type_name} has no field {field!r} to compare")
        return ft

    def check_value(self, type_name: str, field: str, op: str | None, value: Any) -> None:
        ft = self.field_type(type_name, field)
        if op is None:
            if ft.scalar != "bool":
                raise ValueError(f"{type_name}.{field} is not a Boolean: compare it to a value")
        elif ft.scalar == "enum":
            if value not in (ft.enum or ()):
                raise ValueError(f"{value!r} is not a value of {type_name}.{field}")
            if op not in ("=", "!="):
                raise ValueError(f"{type_name}.{field} compares with = or != only")
        elif ft.scalar in ("int", "float"):
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{type_name}.{field} is a number")
        elif ft.scalar == "bool":
            if not isinstance(value, bool) or op not in ("=", "!="):
                raise ValueError(f"{type_name}.{field} is a Boolean: = true or = false")
        elif ft.scalar == "str":
            if not isinstance(value, str) or op not in ("=", "!="):
                raise ValueError(f"{type_name}.{field} compares with = or != a word")
        else:
            raise ValueError(f"{type_name}.{field} ({ft.scalar}) cannot be compared in a tag")

    def reads_of(self, subject: str, a: Atom) -> set[str]:
        if isinstance(a, Own):
            if a.field in self.model.relations.get(subject, {}):
                raise ValueError(f"{subject}.{a.field} is a relation: name one of its fields")
            self.check_value(subject, a.field, a.op, a.value)
            return {f"{subject}.{a.field}"}
        if isinstance(a, Linked):
            rel = self.model.relations.get(subject, {}).get(a.relation)
            if rel is None:
                raise ValueError(f"{subject} has no relation {a.relation!r}")
            reads = {f"{subject}.{a.relation}"}
            if a.quant in ("one",) and rel.many:
                raise ValueError(f"{subject}.{a.relation} is a list: use any, latest or within")
            if a.quant in ("any", "latest", "within") and not rel.many:
                raise ValueError(f"{subject}.{a.relation} is not a list")
            if a.quant in ("latest", "within") and rel.newest_first is None:
                raise ValueError(f"{subject}.{a.relation} has no date order")
            if a.quant == "within":
                assert rel.newest_first is not None
                if not isinstance(a.value, int) or not 0 < a.value <= 3660:
                    raise ValueError("within takes 1 to 3660 days")
                return reads | {f"{rel.target}.{rel.newest_first}"}
            if a.field is not None:
                self.check_value(rel.target, a.field, a.op, a.value)
                reads.add(f"{rel.target}.{a.field}")
            return reads
        if isinstance(a, TagRef):
            other = self.tag(a.name)
            if other.subject != subject:
                raise ValueError(f"tag {a.name} is a {other.subject} tag")
            return set(other.reads)
        assert isinstance(a, ResidentTag)
        rel_name, _, tag = a.name.partition(":")
        rel = self.model.relations.get(subject, {}).get(rel_name)
        if rel is None or not rel.many or rel.target not in SUBJECTS:
            raise ValueError(f"{subject}.{rel_name} is not a list of tagged subjects")
        other = self.tag(tag)
        if other.subject != rel.target:
            raise ValueError(f"tag {tag} is not a {rel.target} tag")
        return {f"{subject}.{rel_name}", *other.reads}

    def resolved(self, subject: str, e: Expr) -> Expr:
        """A bare relation name (``disability``) is an atom on having a record, not a field."""
        if isinstance(e, Not):
            return Not(self.resolved(subject, e.arg))
        if isinstance(e, And | Or):
            return type(e)(tuple(self.resolved(subject, a) for a in e.args))
        if isinstance(e, Own) and e.op is None and e.field in self.model.relations.get(subject, {}):
            return Linked(e.field, "one", None, None, None)
        return e

    def tag(self, name: str) -> Tag:
        if name in self.done:
            return self.done[name]
        spec = self.specs.get(name)
        if spec is None:
            raise ValueError(f"no tag {name!r}")
        if name in self.active:
            raise self.fail(name, "its definition names itself (" + " -> ".join([*self.active, name]) + ")")
        self.active.append(name)
        try:
            expr = self.resolved(spec.subject, parse(spec.where))
            reads: set[str] = set()
            uses: list[str] = []
            for a in atoms(expr):
                reads |= self.reads_of(spec.subject, a)
                if isinstance(a, TagRef):
                    uses.append(a.name)
                elif isinstance(a, ResidentTag):
                    uses.append(a.name.partition(":")[2])
        except ValueError as e:
            raise self.fail(name, str(e)) from None
        finally:
            self.active.pop()
        t = self.done[name] = Tag(spec, expr, frozenset(reads), tuple(dict.fromkeys(uses)))
        return t


def check(specs: Iterable[TagSpec], model: SchemaModel | None = None,
          rules: Iterable[RuleSpec] = ()) -> dict[str, Tag]:
    """The tags, checked against the schema, by name (in file order); then the rules' tags
    (``rule:<name>``, which may name tags but no tag may name)."""
    by_name: dict[str, TagSpec] = {}
    for s in specs:
        if s.name in by_name:
            raise SpecError(f"tag {s.name}: declared twice", tag=s.name)
        by_name[s.name] = s
    c = _Checker(model or default_model(), by_name)
    tags = {name: c.tag(name) for name in by_name}
    for r in rules:
        name = RULE_PREFIX + r.name
        if name in c.specs:
            raise SpecError(f"rule {r.name}: declared twice", tag=r.name)
        c.specs = {**c.specs, name: r.as_tag()}
        t = c.tag(name)
        tags[name] = Tag(r.as_tag().model_copy(update={"name": name}), t.expr, t.reads, t.uses)
    return tags


def read_dir(directory: Path, model: type[BaseModel] = TagSpec) -> list[Any]:
    out: list[Any] = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
            raise SpecError(f"{path.name}: not a readable YAML file ({type(e).__name__})", file=path.name) from None
        if not isinstance(raw, list):
            raise SpecError(f"{path.name}: a list expected", file=path.name)
        for i, item in enumerate(raw):
            try:
                out.append(model.model_validate(item))
            except ValidationError as e:
                where = ".".join(str(p) for p in e.errors()[0]["loc"])
                raise SpecError(f"{path.name}: entry {i + 1}: {where}: {e.errors()[0]['msg']}", file=path.name,
                                field=where) from None
    return out


@cache
def load(directory: Path = TAGS_DIR, rules: Path = RULES_DIR) -> dict[str, Tag]:
    """The tags of ``directory`` and, as ``rule:<name>``, the eligibility rules of ``rules``."""
    return check(read_dir(directory), rules=read_dir(rules, RuleSpec) if rules.is_dir() else ())


@cache
def load_rules(rules: Path = RULES_DIR) -> dict[str, RuleSpec]:
    return {r.name: r for r in read_dir(rules, RuleSpec)} if rules.is_dir() else {}
