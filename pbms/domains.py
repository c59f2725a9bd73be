"""Odoo domains compiled safely to Django ``Q`` objects: rules are data, never code.

Eligibility managers, batch filters and the Odoo-compatible RPC API describe record sets with
Odoo *domains*, e.g. ``[("gender", "=", "Female"), ("age", ">=", 60)]`` or the stored string
``"['|', ('birthdate', '<', '1960-01-01'), ('tags_ids.name', 'in', ['Rural'])]"``. Upstream runs
such strings through ``safe_eval``; here a string is read with :func:`ast.literal_eval` (then
JSON), so only literals (lists, tuples, strings, numbers, booleans, ``None``) are accepted:
names, calls, attribute access and operators are refused before anything runs.

A domain is compiled against a :class:`DomainSchema`, a whitelist of the public field names a
model exposes and the ORM paths they map to. A name outside the schema is refused, whatever
the model has (``password``, ``disabled_by``…), and relations are only traversed into the
sub-schemas the schema declares.

Public API:

- :func:`parse_domain` — literal parsing and structural validation, returns the normalised
  domain (leaves as 3-tuples, explicit ``'&'``, canonical operators).
- :func:`compile_domain` — the ``Q`` for a domain over a schema.
- :func:`filter_by_domain` — ``queryset.filter(compile_domain(...))``, lazy.
- :class:`DomainSchema`, :class:`FieldSpec`, :func:`schema_from_model` and
  :data:`REGISTRANT_SCHEMA` (upstream ``res.partner`` names over
  :class:`g2p_registry_base.models.Registrant`).
- :class:`DomainError` (a ``ValueError``) with ``field`` and ``message``.

Semantics (Odoo 17, with the choices below made explicit):

- Structure: prefix ``'&'``, ``'|'`` (binary) and ``'!'`` (unary), implicit AND between
  consecutive terms, ``[]`` is every record; ``(1, '=', 1)`` / ``(0, '=', 1)`` are TRUE / FALSE.
- Every leaf is two-valued (never SQL ``NULL``): a comparison with an empty value is false, and a
  negative operator (``!=``, ``not in``, ``not like``, ``not ilike``, ``not any``) is the exact
  complement of its positive one, so ``('gender', '!=', 'Male')`` includes registrants without a
  gender, like Odoo. ``'!'`` is distributed into the leaves as Odoo's ``distribute_not`` does:
  on a plain field ``<``/``<=``/``>``/``>=`` flip to ``>=``/``>``/``<=``/``<`` (records with no
  value stay out), every other leaf is complemented.
- ``False`` (or ``None``) as a value means "not set": ``= False`` is ``IS NULL`` (or ``''`` for
  text fields, or ``false`` for booleans), ``!= False`` its complement; ``in`` with ``False`` in
  the list includes the unset records, ``not in`` with ``False`` excludes them. ``=?`` is TRUE
  when the value is ``False``/``None``, else ``=``.
- ``like``/``ilike``/``not like``/``not ilike`` match ``%value%``; ``=like``/``=ilike`` match the
  value as is. The value is an SQL pattern, as in Odoo: ``%`` and ``_`` are wildcards and a
  backslash makes the next character literal (``'100\\%'``). The pattern is always a bound
  parameter. Non-text fields are compared as text (``('birthdate', 'like', '1990-')``).
- Relations: a many2one compares by id (``('kind', '=', 3)``) or, with a string, by the related
  record's name (``('kind', '=', 'Household')``, ``('kind', 'ilike', 'house')``). A one2many /
  many2many leaf is true when *any* related record matches (``in`` ids, name strings); ``= False``
  means no related record. Dotted paths (``tags_ids.name``, ``reg_ids.id_type.name``,
  ``kind.name``) are true when a related record matches; with a negative operator they are true
  when *no* related record matches the positive form (``('tags_ids.name', '!=', 'Rural')`` =
  "not tagged Rural"), except ``!= False``, which reads "is set" and is true when some related
  record has a value. ``any`` / ``not any`` take a sub-domain on the related model, matched by
  one and the same related record. Every relation is compiled to an ``EXISTS`` subquery, so a
  filtered queryset never has duplicate rows and stays one SQL statement.
- ``child_of`` / ``parent_of`` work on ``id`` and on many2one fields whose (related) schema
  declares a ``parent`` foreign key (a recursive CTE, the record itself included); elsewhere they
  are refused.
- ``age`` (registrants) compiles to a sargable ``birthdate`` range with
  :func:`g2p_registry_base.querysets.birthdate_range_for_age`, for today in the active time zone.
- A JSON field takes dotted keys: ``('additional_g2p_info.household_size', '>=', 5)``. A number
  value compares numerically with JSON numbers and numeric strings (``"7"``); a string compares
  with the key's text; ``True`` matches JSON ``true``; ``False`` matches a missing key, JSON
  ``null``, ``false`` or ``""``.
- Values are checked against the field kind: dates take ``date`` or ``'YYYY-MM-DD'``; datetimes
  take ``datetime``, ``'YYYY-MM-DD HH:MM:SS'`` (UTC when naive) or a date, which means the start
  of that day, or its end with ``>`` and ``<=`` (as in Odoo); integers, decimals, booleans.

Limits: a string domain is at most :data:`MAX_DOMAIN_CHARS` characters and nesting (alternating
operators, ``'!'`` and ``any``) at most :data:`MAX_DEPTH` levels, so a hostile domain cannot
exhaust the stack or memory.
"""

from __future__ import annotations

import ast
import datetime
import decimal
import functools
import json
import math
import operator
import re
import reprlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import models
from django.db.models import Case, Exists, F, Func, OuterRef, Q, QuerySet, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Cast
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    In,
    IsNull,
    LessThan,
    LessThanOrEqual,
    Lookup,
    Regex,
)
from psycopg import sql

from g2p_registry_base.querysets import birthdate_range_for_age

__all__ = [
    "AND_OPERATOR",
    "BANK_ACCOUNT_SCHEMA",
    "BANK_SCHEMA",
    "COMPANY_SCHEMA",
    "GROUP_KIND_SCHEMA",
    "ID_TYPE_SCHEMA",
    "KINDS",
    "MEMBERSHIP_KIND_SCHEMA",
    "MEMBERSHIP_SCHEMA",
    "PHONE_SCHEMA",
    "REG_ID_SCHEMA",
    "TAG_SCHEMA",
    "DOMAIN_OPERATORS",
    "FALSE_LEAF",
    "MAX_DEPTH",
    "MAX_DOMAIN_CHARS",
    "NOT_OPERATOR",
    "OR_OPERATOR",
    "REGISTRANT_SCHEMA",
    "TERM_OPERATORS",
    "TRUE_LEAF",
    "DomainError",
    "DomainSchema",
    "FieldSpec",
    "compile_domain",
    "filter_by_domain",
    "parse_domain",
    "schema_from_model",
]

NOT_OPERATOR = "!"
OR_OPERATOR = "|"
AND_OPERATOR = "&"
DOMAIN_OPERATORS = (NOT_OPERATOR, OR_OPERATOR, AND_OPERATOR)

TERM_OPERATORS = (
    "=",
    "!=",
    "<=",
    "<",
    ">",
    ">=",
    "=?",
    "=like",
    "=ilike",
    "like",
    "not like",
    "ilike",
    "not ilike",
    "in",
    "not in",
    "child_of",
    "parent_of",
    "any",
    "not any",
)

TRUE_LEAF = (1, "=", 1)
FALSE_LEAF = (0, "=", 1)

#: Longest domain string accepted by :func:`parse_domain`.
MAX_DOMAIN_CHARS = 100_000
#: Deepest nesting accepted (alternating ``&``/``|``, ``!`` and ``any`` sub-domains).
MAX_DEPTH = 48

# Negative operators and their positive counterparts (a negative leaf is the complement).
_POSITIVE = {"!=": "=", "not in": "in", "not like": "like", "not ilike": "ilike", "not any": "any"}
# distribute_not on a plain field: these flip instead of being complemented.
_FLIP = {"<": ">=", ">": "<=", "<=": ">", ">=": "<"}
_ORDER_OPERATORS = ("<", "<=", ">", ">=")
_LIKE_OPERATORS = ("like", "ilike", "=like", "=ilike", "not like", "not ilike")
_HIERARCHY_OPERATORS = ("child_of", "parent_of")

_TEXT_KINDS = frozenset({"char", "text", "selection"})
_SCALAR_KINDS = _TEXT_KINDS | {"integer", "float", "decimal", "boolean", "date", "datetime"}
_RELATION_KINDS = frozenset({"many2one", "one2many", "many2many"})
KINDS = _SCALAR_KINDS | _RELATION_KINDS | {"json", "age"}

_JSON_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_ \-]{0,63}")
_NUMERIC_TEXT = r"^\s*[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)\s*$"
_INT_TEXT = re.compile(r"\s*[-+]?[0-9]+\s*")
_SECRET_NAME = re.compile(r"password|passwd|secret|token|api_?key|private|salt", re.IGNORECASE)
_MAX_BIGINT = 2**63 - 1
_MAX_AGE = 1000  # beyond, an age bound is all or nothing (and dates would overflow)

_short = reprlib.Repr()
_short.maxstring = 80
_short.maxother = 80
_short.maxlist = 8
_short.maxtuple = 8
_short.maxlevel = 4


class DomainError(ValueError):
    """A domain that cannot be parsed or compiled; ``field`` names the offending field if any."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------


def _leaf_repr(element: Any) -> str:
    if isinstance(element, list):
        element = tuple(element)
    return _short.repr(element)


def _invalid_leaf(element: Any) -> DomainError:
    # Odoo's check_leaf text; the field is named when the leaf has a usable one.
    field = None
    if isinstance(element, list | tuple) and element and isinstance(element[0], str):
        field = element[0] if element[0].strip() and "\x00" not in element[0] else None
    return DomainError(f"Invalid leaf {_leaf_repr(element)}", field=field)


def _check_text(value: str, element: Any) -> None:
    if "\x00" in value:
        raise _invalid_leaf(element)


def _check_scalar(value: Any, element: Any) -> Any:
    if value is None or isinstance(value, bool | int | decimal.Decimal):
        if isinstance(value, decimal.Decimal) and not value.is_finite():
            raise _invalid_leaf(element)
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _invalid_leaf(element)
        return value
    if isinstance(value, str):
        _check_text(value, element)
        return value
    if isinstance(value, datetime.date):  # date and datetime (XML-RPC dateTime.iso8601)
        return value
    raise _invalid_leaf(element)


def _parse_leaf(token: Sequence[Any], depth: int) -> tuple[Any, str, Any]:
    if len(token) != 3:
        raise _invalid_leaf(token)
    left, operator, right = token
    if (
        isinstance(left, int)
        and left in (0, 1)
        and operator == "="
        and isinstance(right, int)
        and right == 1
    ):
        return TRUE_LEAF if left == 1 else FALSE_LEAF
    if not isinstance(left, str) or not left.strip() or not isinstance(operator, str):
        raise _invalid_leaf(token)
    _check_text(left, token)
    operator = operator.lower()
    if operator == "<>":
        operator = "!="
    if operator not in TERM_OPERATORS:
        raise _invalid_leaf(token)
    # Odoo's normalize_leaf: a boolean with in/not in means =/!=, a list with =/!= means in.
    if isinstance(right, bool) and operator in ("in", "not in"):
        operator = "=" if operator == "in" else "!="
    if isinstance(right, list | tuple) and operator in ("=", "!="):
        operator = "in" if operator == "=" else "not in"
    if operator in ("any", "not any"):
        if not isinstance(right, list | tuple):
            raise _invalid_leaf(token)
        return left, operator, _parse(right, depth + 1)
    if isinstance(right, list | tuple):
        return left, operator, [_check_scalar(item, token) for item in right]
    return left, operator, _check_scalar(right, token)


def _literal(text: str) -> Any:
    if len(text) > MAX_DOMAIN_CHARS:
        raise DomainError(f"Invalid domain: longer than {MAX_DOMAIN_CHARS} characters")
    text = text.strip()
    if not text:
        return []
    try:
        # Literals only: no names, calls, attributes or operators are ever evaluated.
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    raise DomainError(
        "Invalid domain: not a literal list of leaves and operators "
        f"(names, calls and expressions are refused): {_short.repr(text)}"
    )


def _parse(domain: Any, depth: int) -> list[Any]:
    if depth > MAX_DEPTH:
        raise DomainError(f"Invalid domain: nested more than {MAX_DEPTH} levels deep")
    if isinstance(domain, str):
        domain = _literal(domain)
    if not isinstance(domain, list | tuple):
        # Odoo's normalize_domain text.
        raise DomainError(
            "Domains to normalize must have a 'domain' form: a list or tuple of domain components"
        )
    result: list[Any] = []
    expected = 1  # operands still expected, as in Odoo's normalize_domain
    arity = {NOT_OPERATOR: 1, AND_OPERATOR: 2, OR_OPERATOR: 2}
    for token in domain:
        if expected == 0:  # more terms than the operators take: implicit AND
            result.insert(0, AND_OPERATOR)
            expected = 1
        if isinstance(token, list | tuple):
            result.append(_parse_leaf(token, depth))
            expected -= 1
        elif isinstance(token, str) and token in arity:
            result.append(token)
            expected += arity[token] - 1
        else:
            raise _invalid_leaf(token)
    if result and expected != 0:
        raise DomainError(f"Invalid domain: unbalanced operators in {_short.repr(list(domain))}")
    return result


def parse_domain(domain: str | list[Any] | tuple[Any, ...]) -> list[Any]:
    """Parse and validate ``domain``; return it normalised.

    A string is read as a Python literal (:func:`ast.literal_eval`), or failing that as JSON;
    nothing in it is ever evaluated. The result lists operators and leaves in prefix order with
    every implicit ``'&'`` made explicit; leaves are ``(field, operator, value)`` tuples with the
    operator lower-cased, ``'<>'`` spelled ``'!='``, tuple values turned into lists and ``any``
    sub-domains parsed too. ``[]`` (or an empty string) stays ``[]``: every record.

    Raises:
        DomainError: not a literal, not a list, an invalid leaf or operator, unbalanced
            operators, or nested deeper than :data:`MAX_DEPTH`.
    """
    tokens = _parse(domain, 0)
    if _nesting(tokens) > MAX_DEPTH:
        raise DomainError(f"Invalid domain: nested more than {MAX_DEPTH} levels deep")
    return tokens


def _nesting(tokens: list[Any]) -> int:
    """An upper bound of the compile recursion: tree depth plus the deepest ``any`` inside."""
    inner = [
        1 + _nesting(token[2])
        for token in tokens
        if isinstance(token, tuple) and token[1] in ("any", "not any")
    ]
    tree = _tree(tokens)
    return (_depth(tree) if tree is not None else 0) + max(inner, default=0)


# --------------------------------------------------------------------------------------------
# The expression tree
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Leaf:
    left: Any
    op: str
    value: Any

    @property
    def term(self) -> tuple[Any, str, Any]:
        return (self.left, self.op, self.value)


@dataclass(frozen=True)
class _Node:
    op: str  # '&', '|' or '!'
    children: tuple[_Node | _Leaf, ...]
    depth: int


def _depth(item: _Node | _Leaf) -> int:
    return item.depth if isinstance(item, _Node) else 0


def _tree(tokens: list[Any]) -> _Node | _Leaf | None:
    """Prefix tokens to a tree, iteratively; ``&``/``|`` chains are flattened, ``!!`` removed."""
    stack: list[_Node | _Leaf] = []
    for token in reversed(tokens):
        if token == NOT_OPERATOR:
            child = stack.pop()
            if isinstance(child, _Node) and child.op == NOT_OPERATOR:
                stack.append(child.children[0])
                continue
            node = _Node(NOT_OPERATOR, (child,), _depth(child) + 1)
        elif token in (AND_OPERATOR, OR_OPERATOR):
            first, second = stack.pop(), stack.pop()
            children: list[_Node | _Leaf] = []
            for child in (first, second):
                if isinstance(child, _Node) and child.op == token:
                    children.extend(child.children)
                else:
                    children.append(child)
            node = _Node(token, tuple(children), max(_depth(c) for c in children) + 1)
        else:
            stack.append(_Leaf(*token))
            continue
        if node.depth > MAX_DEPTH:
            raise DomainError(f"Invalid domain: nested more than {MAX_DEPTH} levels deep")
        stack.append(node)
    return stack[0] if stack else None


# --------------------------------------------------------------------------------------------
# Schemas
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    """One public field of a :class:`DomainSchema`.

    Attributes:
        path: the model field it maps to: a concrete field name or attname (``"gender_id"``)
            for scalars, the relation name (``"tags"``, ``"reg_ids"``, ``"kind"``) for
            relations, ``"birthdate"`` for ``age``.
        kind: ``char``, ``text``, ``selection``, ``integer``, ``float``, ``decimal``,
            ``boolean``, ``date``, ``datetime``, ``json``, ``age``, ``many2one``, ``one2many``
            or ``many2many``.
        schema: for relations, the related model's schema (or a zero-argument callable returning
            it, for schemas that refer to each other).
        nullable: whether the column may be NULL; ``None`` reads it from the model.
    """

    path: str
    kind: str
    schema: DomainSchema | Callable[[], DomainSchema] | None = None
    nullable: bool | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Unknown field kind {self.kind!r} (expected one of {sorted(KINDS)})")
        if (self.kind in _RELATION_KINDS) != (self.schema is not None):
            raise ValueError(f"Field {self.path!r}: a schema is required for relations only")

    def related_schema(self) -> DomainSchema:
        schema = self.schema
        if schema is None:
            raise TypeError(f"{self.path!r} is not a relation")
        return schema if isinstance(schema, DomainSchema) else schema()


@dataclass(frozen=True)
class _Relation:
    """How to reach the related rows of a relation field from the outer model."""

    kind: str  # many2one, one2many, many2many
    related: type[models.Model]
    # many2one: related.<target> = outer.<fk attname>
    # one2many: related.<fk name> = outer.<target>
    # many2many: through.<src> = outer.<target>, through.<tgt> in related pks
    local: str = ""
    remote: str = ""
    through: type[models.Model] | None = None
    nullable: bool = True


@dataclass(frozen=True)
class _Resolved:
    spec: FieldSpec
    nullable: bool
    relation: _Relation | None = None


_ID_SPEC = FieldSpec("pk", "integer", nullable=False)


class DomainSchema:
    """The whitelist of fields a domain may use on one model, with their ORM paths.

    Args:
        model: the model class, or ``"app_label.ModelName"`` (resolved on first use, so
            schemas can be declared at import time).
        fields: public name -> :class:`FieldSpec`. ``id`` is always available.
        name: the model name used in error messages (Odoo's, e.g. ``"res.partner"``); defaults
            to the model's ``app_label.modelname``.
        rec_name: the field a relation pointing here is compared with when a domain gives a
            string (``('kind', '=', 'Household')``); ``None`` refuses strings.
        parent: the ORM name of a foreign key to the same model, which enables ``child_of`` and
            ``parent_of``.
    """

    def __init__(
        self,
        model: type[models.Model] | str,
        fields: Mapping[str, FieldSpec],
        *,
        name: str | None = None,
        rec_name: str | None = "name",
        parent: str | None = None,
    ) -> None:
        self._model = model
        self.fields: dict[str, FieldSpec] = dict(fields)
        self._name = name
        self.rec_name = rec_name
        self.parent = parent
        self._resolved: dict[str, _Resolved] = {}
        if rec_name is not None and rec_name != "id" and rec_name not in self.fields:
            if rec_name != "name":
                raise ValueError(f"rec_name {rec_name!r} is not one of the schema's fields")
            self.rec_name = None  # the default, on a model without a name

    def __repr__(self) -> str:
        return f"<DomainSchema {self.name}: {', '.join(self.names())}>"

    @property
    def model(self) -> type[models.Model]:
        if isinstance(self._model, str):
            self._model = apps.get_model(self._model)
        return self._model

    @property
    def name(self) -> str:
        if self._name:
            return self._name
        if isinstance(self._model, str):
            return self._model.lower()
        return self._model._meta.label_lower

    def names(self) -> list[str]:
        """The public field names, ``id`` included."""
        return ["id", *sorted(set(self.fields) - {"id"})]

    def __contains__(self, name: object) -> bool:
        return name == "id" or name in self.fields

    def spec(self, name: str, *, leaf_field: str | None = None) -> FieldSpec:
        """The spec of ``name`` or :class:`DomainError` ``Invalid field 'x' on model 'y'``."""
        if name in self.fields:
            return self.fields[name]
        if name == "id":
            return _ID_SPEC
        raise DomainError(
            f"Invalid field {name!r} on model {self.name!r}", field=leaf_field or name
        )

    def resolve(self, name: str) -> _Resolved:
        """The spec of ``name`` checked against the model (cached)."""
        resolved = self._resolved.get(name)
        if resolved is None:
            resolved = self._resolve(name, self.spec(name))
            self._resolved[name] = resolved
        return resolved

    def check(self) -> None:
        """Resolve every field now: a spec that does not match the model raises ``TypeError``."""
        for name in self.names():
            self.resolve(name)
        if self.parent is not None:
            self._parent_field()

    def _resolve(self, name: str, spec: FieldSpec) -> _Resolved:
        meta = self.model._meta
        if spec.path == "pk":
            return _Resolved(spec, nullable=False)
        try:
            field = meta.get_field(spec.path)
        except Exception as exc:  # FieldDoesNotExist
            raise TypeError(f"{self.name}.{name}: {meta.label} has no field {spec.path!r}") from exc
        if spec.kind in _RELATION_KINDS:
            relation = _relation_of(field, spec, f"{self.name}.{name}")
            nullable = relation.nullable if spec.nullable is None else spec.nullable
            return _Resolved(spec, nullable=nullable, relation=relation)
        if getattr(field, "many_to_many", False) or getattr(field, "one_to_many", False):
            raise TypeError(f"{self.name}.{name}: {spec.path!r} is a relation, not a {spec.kind}")
        if spec.kind == "age" and spec.path != "birthdate":
            raise TypeError(f"{self.name}.{name}: age is computed from 'birthdate' only")
        if spec.kind == "json" and not isinstance(field, models.JSONField):
            raise TypeError(f"{self.name}.{name}: {spec.path!r} is not a JSON field")
        nullable = bool(getattr(field, "null", True)) if spec.nullable is None else spec.nullable
        return _Resolved(spec, nullable=nullable)

    def _parent_field(self) -> models.ForeignKey[Any, Any]:
        field = self.model._meta.get_field(self.parent or "")
        if not isinstance(field, models.ForeignKey) or field.related_model is not self.model:
            raise TypeError(f"{self.name}: parent {self.parent!r} is not a foreign key to itself")
        return field


def _relation_of(field: Any, spec: FieldSpec, label: str) -> _Relation:
    if spec.kind == "many2one":
        if not (getattr(field, "many_to_one", False) or getattr(field, "one_to_one", False)):
            raise TypeError(f"{label}: {spec.path!r} is not a many2one (foreign key)")
        if getattr(field, "concrete", False):
            return _Relation(
                "many2one",
                field.related_model,
                local=field.attname,
                remote=field.target_field.attname,
                nullable=bool(field.null),
            )
        # Reverse side of a one-to-one: the related row points at us.
        return _Relation(
            "one2many",
            field.related_model,
            local=field.field.target_field.attname,
            remote=field.field.name,
        )
    if getattr(field, "many_to_many", False):
        if getattr(field, "concrete", False):  # forward ManyToManyField
            through = field.remote_field.through
            return _Relation(
                "many2many",
                field.related_model,
                local=field.m2m_field_name(),
                remote=field.m2m_reverse_field_name(),
                through=through,
            )
        forward = field.field  # ManyToManyRel
        return _Relation(
            "many2many",
            field.related_model,
            local=forward.m2m_reverse_field_name(),
            remote=forward.m2m_field_name(),
            through=field.through,
        )
    if getattr(field, "one_to_many", False) or (
        getattr(field, "one_to_one", False) and not getattr(field, "concrete", False)
    ):
        return _Relation(
            "one2many",
            field.related_model,
            local=field.field.target_field.attname,
            remote=field.field.name,
        )
    raise TypeError(f"{label}: {spec.path!r} is not a one2many or many2many relation")


def _kind_of(field: models.Field[Any, Any]) -> str | None:
    if isinstance(field, models.BooleanField):
        return "boolean"
    if isinstance(field, models.IntegerField | models.AutoField):
        return "integer"
    if isinstance(field, models.DecimalField):
        return "decimal"
    if isinstance(field, models.FloatField):
        return "float"
    if isinstance(field, models.DateTimeField):
        return "datetime"
    if isinstance(field, models.DateField):
        return "date"
    if isinstance(field, models.JSONField):
        return "json"
    if isinstance(field, models.TextField):
        return "text"
    if isinstance(field, models.CharField):
        return "selection" if field.choices else "char"
    return None  # binary, files, UUIDs, durations…: not searchable through domains


def schema_from_model(
    model: type[models.Model],
    *,
    name: str | None = None,
    include: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
    rename: Mapping[str, str] | None = None,
    relations: Mapping[str, DomainSchema | Callable[[], DomainSchema]] | None = None,
    odoo_names: bool = False,
    rec_name: str | None = "name",
    parent: str | None = None,
) -> DomainSchema:
    """A :class:`DomainSchema` exposing a model's concrete fields under their own names.

    - Scalar fields get the kind of their Django class; binary, file, UUID and other
      unsupported fields are left out, and so is any field whose name looks like a secret
      (``password``, ``secret``, ``token``, ``api_key``, ``private``, ``salt``).
    - A foreign key becomes a many2one compared by id; dotted paths through it are allowed
      into ``relations[name]`` when given, else only ``<fk>.id``. With ``parent`` (a foreign key
      to the model itself) the schema supports ``child_of``/``parent_of`` and the parent field
      leads back into the schema.
    - One2many / many2many relations (reverse foreign keys, many-to-many fields) are exposed only
      when listed in ``relations``.
    - ``rename`` maps ORM names to public names (``{"registrant": "partner_id"}``);
      ``odoo_names=True`` names foreign keys ``<name>_id`` and x2many ``<name>_ids`` unless
      already so named or renamed.
    - ``include`` keeps only those ORM names; ``exclude`` drops them.

    Example::

        schema_from_model(RegistrantId, name="g2p.reg.id", odoo_names=True,
                          relations={"id_type": ID_TYPE_SCHEMA}, rec_name="value")
    """
    meta = model._meta
    keep = set(include) if include is not None else None
    drop = set(exclude)
    rename = dict(rename or {})
    relations = dict(relations or {})
    fields: dict[str, FieldSpec] = {}
    schema: DomainSchema

    def public(orm_name: str, *, many: bool = False, fk: bool = False) -> str:
        if orm_name in rename:
            return rename[orm_name]
        if odoo_names and many and not orm_name.endswith("_ids"):
            return f"{orm_name}_ids"
        if odoo_names and fk and not orm_name.endswith("_id"):
            return f"{orm_name}_id"
        return orm_name

    def wanted(orm_name: str) -> bool:
        return (keep is None or orm_name in keep) and orm_name not in drop

    for field in meta.concrete_fields:
        if not wanted(field.name) or _SECRET_NAME.search(field.name):
            continue
        if field.is_relation:
            related: DomainSchema | Callable[[], DomainSchema]
            if field.name in relations:
                related = relations[field.name]
            elif parent is not None and field.name == parent:
                related = lambda: schema  # noqa: E731 - the schema being built
            else:
                target = field.related_model
                assert target is not None and not isinstance(target, str)
                related = DomainSchema(target, {}, rec_name=None)
            fields[public(field.name, fk=True)] = FieldSpec(field.name, "many2one", schema=related)
            continue
        if field.primary_key and field.name == "id":
            continue
        kind = _kind_of(field)
        if kind is not None:
            fields[public(field.name)] = FieldSpec(field.name, kind)
    for orm_name, related in relations.items():
        if any(f.name == orm_name for f in meta.concrete_fields):
            continue
        relation_field = meta.get_field(orm_name)
        kind = "many2many" if relation_field.many_to_many else "one2many"
        fields[public(orm_name, many=True)] = FieldSpec(orm_name, kind, schema=related)
    if rec_name is not None and rec_name not in fields:
        rec_name = None
    schema = DomainSchema(model, fields, name=name, rec_name=rec_name, parent=parent)
    return schema


# --------------------------------------------------------------------------------------------
# SQL building blocks
# --------------------------------------------------------------------------------------------


class _Like(Lookup):
    """``lhs LIKE pattern``: the pattern is an SQL pattern bound as a parameter, as is."""

    lookup_name = "pbms_like"
    prepare_rhs = False
    sql_operator = "LIKE"

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        lhs_sql, lhs_params = self.process_lhs(compiler, connection)
        rhs_sql, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs_sql} {self.sql_operator} {rhs_sql}", (*lhs_params, *rhs_params)


class _ILike(_Like):
    lookup_name = "pbms_ilike"
    sql_operator = "ILIKE"


def _true() -> Q:
    # Django drops an always-true condition and keeps it true inside OR and NOT.
    return ~Q(pk__in=[])


def _false() -> Q:
    return Q(pk__in=[])


def _guarded(condition: Any, expr: Any, nullable: bool) -> Q:
    """``condition`` made two-valued: false (not NULL) when ``expr`` is NULL."""
    if nullable:
        return Q(condition) & Q(IsNull(expr, False))
    return Q(condition)


def _is_unset(value: Any) -> bool:
    return value is None or value is False


def _hierarchy_sql(model: type[models.Model], parent: Any, ids: list[int], op: str) -> RawSQL:
    """The ids of the records ``ids`` and their descendants (child_of) or ancestors (parent_of).

    One recursive CTE; ``UNION`` (not ``ALL``) stops on cycles. Identifiers come from the model
    metadata (quoted with :class:`psycopg.sql.Identifier`), never from the domain; the ids are a
    bound array parameter.
    """
    step = _CHILD_STEP if op == "child_of" else _PARENT_STEP
    table = sql.Identifier(str(model._meta.db_table))
    pk = sql.Identifier(str(model._meta.pk.column))
    statement = _HIERARCHY.format(
        step=step.format(table=table, pk=pk, up=sql.Identifier(str(parent.column))),
        table=table,
        pk=pk,
    )
    return RawSQL(statement.as_string(None), (ids,), output_field=models.BigIntegerField())


_HIERARCHY = sql.SQL(
    "WITH RECURSIVE tree(id) AS (SELECT {pk} FROM {table} WHERE {pk} = ANY(%s) UNION {step}) "
    "SELECT id FROM tree"
)
_CHILD_STEP = sql.SQL("SELECT c.{pk} FROM {table} c JOIN tree t ON c.{up} = t.id")
_PARENT_STEP = sql.SQL(
    "SELECT p.{up} FROM {table} p JOIN tree t ON p.{pk} = t.id WHERE p.{up} IS NOT NULL"
)


# --------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------


def _bad_value(field: str, value: Any, kind: str, expected: str) -> DomainError:
    return DomainError(
        f"Invalid value {_short.repr(value)} for field {field!r} ({kind}): expected {expected}",
        field=field,
    )


def _to_int(field: str, value: Any, kind: str = "integer") -> int:
    result: int | None = None
    if isinstance(value, bool):
        result = None
    elif isinstance(value, int):
        result = value
    elif isinstance(value, float | decimal.Decimal) and value == int(value):
        result = int(value)
    elif isinstance(value, str) and _INT_TEXT.fullmatch(value):
        result = int(value)
    if result is None or abs(result) > _MAX_BIGINT:
        raise _bad_value(field, value, kind, "an integer")
    return result


def _to_decimal(field: str, value: Any, kind: str) -> decimal.Decimal:
    if not isinstance(value, bool):
        try:
            if isinstance(value, int | decimal.Decimal):
                return decimal.Decimal(value)
            if isinstance(value, float):
                return decimal.Decimal(repr(value))
            if isinstance(value, str):
                result = decimal.Decimal(value.strip())
                if result.is_finite():
                    return result
        except decimal.InvalidOperation:
            pass
    raise _bad_value(field, value, kind, "a number")


def _to_date(field: str, value: Any) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                return datetime.date.fromisoformat(text)
            return datetime.datetime.fromisoformat(text).date()
        except ValueError:
            pass
    raise _bad_value(field, value, "date", "a date 'YYYY-MM-DD'")


def _to_datetime(field: str, value: Any, op: str) -> datetime.datetime:
    result: datetime.datetime | None = None
    day: datetime.date | None = None
    if isinstance(value, datetime.datetime):
        result = value
    elif isinstance(value, datetime.date):
        day = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                day = datetime.date.fromisoformat(text)
            else:
                result = datetime.datetime.fromisoformat(text)
        except ValueError:
            pass
    if day is not None:
        # Odoo: a bare date means the start of the day, or its end for '>' and '<='.
        moment = datetime.time.max if op in (">", "<=") else datetime.time.min
        result = datetime.datetime.combine(day, moment)
    if result is None:
        raise _bad_value(field, value, "datetime", "a datetime 'YYYY-MM-DD HH:MM:SS' (UTC)")
    if result.tzinfo is None:
        result = result.replace(tzinfo=datetime.UTC)
    return result


def _convert(field: str, kind: str, value: Any, op: str = "=") -> Any:
    """``value`` as the Python type of ``kind`` (never ``False``/``None``)."""
    if kind in _TEXT_KINDS:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float | decimal.Decimal) and not isinstance(value, bool):
            return str(value)
        raise _bad_value(field, value, kind, "a string")
    if kind == "integer":
        return _to_int(field, value)
    if kind == "float":
        return float(_to_decimal(field, value, kind))
    if kind == "decimal":
        return _to_decimal(field, value, kind)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        raise _bad_value(field, value, kind, "True or False")
    if kind == "date":
        return _to_date(field, value)
    if kind == "datetime":
        return _to_datetime(field, value, op)
    raise _bad_value(field, value, kind, "a comparable value")  # pragma: no cover


def _pattern(field: str, op: str, value: Any) -> str:
    if isinstance(value, int | float | decimal.Decimal) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise _bad_value(field, value, "pattern", "a string")
    pattern = f"%{value}%" if op in ("like", "ilike", "not like", "not ilike") else value
    # PostgreSQL refuses a pattern ending with its escape character.
    if (len(pattern) - len(pattern.rstrip("\\"))) % 2:
        raise DomainError(
            f"Invalid value {_short.repr(value)} for field {field!r}: "
            "a LIKE pattern cannot end with the escape character '\\'",
            field=field,
        )
    return pattern


def _like(expr: Any, op: str, pattern: str) -> Any:
    return (_ILike if "ilike" in op else _Like)(expr, pattern)


_ORDER_LOOKUPS = {
    "<": LessThan,
    "<=": LessThanOrEqual,
    ">": GreaterThan,
    ">=": GreaterThanOrEqual,
}


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


# --------------------------------------------------------------------------------------------
# Compilation
# --------------------------------------------------------------------------------------------


class _Compiler:
    """Compiles a domain tree to ``Q``; stateless, recursing into related schemas."""

    def node(self, schema: DomainSchema, item: _Node | _Leaf, negate: bool) -> Q:
        if isinstance(item, _Leaf):
            return self.leaf(schema, item, negate)
        if item.op == NOT_OPERATOR:
            return self.node(schema, item.children[0], not negate)
        conjunction = (item.op == AND_OPERATOR) != negate
        result: Q | None = None
        for child in item.children:
            q = self.node(schema, child, negate)
            result = q if result is None else (result & q if conjunction else result | q)
        assert result is not None
        return result

    def domain(self, schema: DomainSchema, tokens: list[Any]) -> Q:
        tree = _tree(tokens)
        return _true() if tree is None else self.node(schema, tree, False)

    # -- leaves ----------------------------------------------------------------------------

    def leaf(self, schema: DomainSchema, leaf: _Leaf, negate: bool) -> Q:
        if leaf.term in (TRUE_LEAF, FALSE_LEAF):
            return _true() if (leaf.term == TRUE_LEAF) != negate else _false()
        left, op, value = leaf.term
        if negate:
            # Odoo's distribute_not: comparisons on a plain field flip, the rest is negated.
            if "." not in left and op in _FLIP:
                return self.term(schema, left, _FLIP[op], value, left)
            return ~self.term(schema, left, op, value, left)
        return self.term(schema, left, op, value, left)

    def term(self, schema: DomainSchema, path: str, op: str, value: Any, full: str) -> Q:
        """The Q of one term, two-valued; ``full`` is the leaf's whole path, for messages."""
        if op == "=?":
            if _is_unset(value):
                return _true()
            op = "in" if isinstance(value, list) else "="
        name, dot, rest = path.partition(".")
        try:
            resolved = schema.resolve(name)
        except DomainError as exc:
            exc.field = full
            raise
        spec = resolved.spec
        if dot:
            if spec.kind == "json":
                return self.json_term(resolved, rest.split("."), op, value, full)
            if resolved.relation is None:
                raise DomainError(f"Invalid field {full!r} on model {schema.name!r}", field=full)
            if op in _POSITIVE and not (op == "!=" and _is_unset(value)):
                # No related record matches the positive form; but "!= False" reads "is set",
                # a positive test: some related record has a value.
                return ~self.related(
                    resolved, self.term(spec.related_schema(), rest, _POSITIVE[op], value, full)
                )
            return self.related(resolved, self.term(spec.related_schema(), rest, op, value, full))
        if spec.kind == "age":
            return self.age_term(op, value, full)
        if spec.kind == "json":
            return self.json_term(resolved, [], op, value, full)
        if resolved.relation is not None:
            return self.relation_term(schema, resolved, op, value, full)
        if op in _HIERARCHY_OPERATORS and (name != "id" or schema.parent is None):
            raise DomainError(
                f"Invalid operator {op!r} for field {full!r}: "
                f"model {schema.name!r} has no parent hierarchy",
                field=full,
            )
        if op in _HIERARCHY_OPERATORS:
            ids = self.hierarchy_ids(value, full)
            if not ids:
                return _false()
            return Q(In(F("pk"), _hierarchy_sql(schema.model, schema._parent_field(), ids, op)))
        return self.scalar_term(F(spec.path), spec.kind, resolved.nullable, op, value, full)

    def unsupported(self, op: str, kind: str, full: str) -> DomainError:
        return DomainError(f"Invalid operator {op!r} for field {full!r} ({kind})", field=full)

    def scalar_term(
        self, expr: Any, kind: str, nullable: bool, op: str, value: Any, full: str
    ) -> Q:
        if op in ("=", "!="):
            if _is_unset(value):
                q = self.unset(expr, kind, nullable)
            else:
                q = _guarded(Exact(expr, _convert(full, kind, value)), expr, nullable)
            return q if op == "=" else ~q
        if op in ("in", "not in"):
            items = _as_list(value)
            values = [_convert(full, kind, v) for v in items if not _is_unset(v)]
            q = _guarded(In(expr, values), expr, nullable) if values else _false()
            if any(_is_unset(v) for v in items):
                q |= self.unset(expr, kind, nullable)
            return q if op == "in" else ~q
        if op in _ORDER_OPERATORS:
            if _is_unset(value) or isinstance(value, list):
                raise _bad_value(full, value, kind, "a single value")
            if kind == "boolean":
                raise self.unsupported(op, kind, full)
            lookup = _ORDER_LOOKUPS[op](expr, _convert(full, kind, value, op))
            return _guarded(lookup, expr, nullable)
        if op in _LIKE_OPERATORS:
            if kind == "boolean":
                raise self.unsupported(op, kind, full)
            text = expr if kind in _TEXT_KINDS else Cast(expr, models.TextField())
            q = _guarded(_like(text, op, _pattern(full, op, value)), expr, nullable)
            return ~q if op in _POSITIVE else q
        raise self.unsupported(op, kind, full)

    def unset(self, expr: Any, kind: str, nullable: bool) -> Q:
        """Odoo's ``= False``: NULL, or also ``''`` for text and ``false`` for booleans. The
        ``IS NULL`` arm is left out for a column that cannot be NULL, so ``is_group = False``
        stays a plain, indexable comparison."""
        parts = [Q(IsNull(expr, True))] if nullable else []
        if kind in _TEXT_KINDS:
            parts.append(Q(Exact(expr, "")))
        elif kind == "boolean":
            parts.append(Q(Exact(expr, False)))
        return functools.reduce(operator.or_, parts) if parts else _false()

    # -- age ---------------------------------------------------------------------------------

    def age_term(self, op: str, value: Any, full: str) -> Q:
        if op in ("=", "!=") and _is_unset(value):
            q = Q(birthdate__isnull=True)
            return q if op == "=" else ~q
        if op in ("in", "not in"):
            items = _as_list(value)
            q = _false()
            for item in items:
                q |= self.age_term("=", item, full)
            return q if op == "in" else ~q
        if op in ("=", "!=") or op in _ORDER_OPERATORS:
            if isinstance(value, list):
                raise _bad_value(full, value, "age", "a whole number of years")
            years = _to_int(full, value, "age")
            low, high = {
                "=": (years, years),
                "!=": (years, years),
                ">=": (years, None),
                ">": (years + 1, None),
                "<=": (None, years),
                "<": (None, years - 1),
            }[op]
            if (low is not None and low > _MAX_AGE) or (high is not None and high < 0):
                q = _false()
            else:
                q = birthdate_range_for_age(
                    min_age=low if low is not None and low >= 0 else None,
                    max_age=high if high is not None and high <= _MAX_AGE else None,
                )
            return ~q if op == "!=" else q
        raise self.unsupported(op, "age", full)

    # -- JSON keys --------------------------------------------------------------------------

    def json_term(self, resolved: _Resolved, keys: list[str], op: str, value: Any, full: str) -> Q:
        path = resolved.spec.path
        if not keys:
            # The whole document: only "set or not" is meaningful.
            if op in ("=", "!=") and _is_unset(value):
                expr = F(path)
                q = Q(IsNull(expr, True)) | Q(**{path: {}})
                return q if op == "=" else ~q
            raise DomainError(
                f"Invalid operator {op!r} for field {full!r} (json): compare one of its keys, "
                f"e.g. '{full}.some_key'",
                field=full,
            )
        for key in keys:
            if not _JSON_KEY.fullmatch(key):
                raise DomainError(f"Invalid field {full!r}: bad JSON key {key!r}", field=full)
        node: Any = path
        for key in keys[:-1]:
            node = KeyTransform(key, node)
        raw = KeyTransform(keys[-1], node)
        text = KeyTextTransform(keys[-1], node)
        jtype = Func(raw, function="jsonb_typeof", output_field=models.CharField())
        return self.json_value_term(text, jtype, op, value, full)

    def json_value_term(self, text: Any, jtype: Any, op: str, value: Any, full: str) -> Q:
        if op in ("in", "not in"):
            q = _false()
            for item in _as_list(value):
                q |= self.json_value_term(text, jtype, "=", item, full)
            return q if op == "in" else ~q
        if op in _LIKE_OPERATORS:
            q = _guarded(_like(text, op, _pattern(full, op, value)), text, True)
            return ~q if op in _POSITIVE else q
        if op not in ("=", "!=") and op not in _ORDER_OPERATORS:
            raise self.unsupported(op, "json", full)
        if isinstance(value, list):
            raise _bad_value(full, value, "json", "a single value")
        if _is_unset(value):
            if op not in ("=", "!="):
                raise _bad_value(full, value, "json", "a value")
            q = (
                Q(IsNull(text, True))
                | Q(Exact(text, ""))
                | (Q(Exact(jtype, "boolean")) & Q(Exact(text, "false")))
            )
            return q if op == "=" else ~q
        if isinstance(value, bool):
            if op not in ("=", "!="):
                raise self.unsupported(op, "json", full)
            q = _guarded(Exact(jtype, "boolean"), text, True) & Q(Exact(text, "true"))
            return q if op == "=" else ~q
        if isinstance(value, str):
            lookup = Exact if op in ("=", "!=") else _ORDER_LOOKUPS[op]
            q = _guarded(lookup(text, value), text, True)
            return ~q if op == "!=" else q
        if isinstance(value, int | float | decimal.Decimal):
            # A boolean CASE, never NULL: the cast only runs on numbers and numeric strings.
            number = _to_decimal(full, value, "json")
            lookup = Exact if op in ("=", "!=") else _ORDER_LOOKUPS[op]
            as_number = Func(
                text, template="(%(expressions)s)::numeric", output_field=models.DecimalField()
            )
            compare: Any = lookup(as_number, number)
            q = Q(
                Case(
                    When(Q(Exact(jtype, "number")), then=compare),
                    When(Q(Exact(jtype, "string")) & Q(Regex(text, _NUMERIC_TEXT)), then=compare),
                    default=Value(False),
                    output_field=models.BooleanField(),
                )
            )
            return ~q if op == "!=" else q
        raise _bad_value(full, value, "json", "a string, a number or a boolean")

    # -- relations ---------------------------------------------------------------------------

    def related(self, resolved: _Resolved, inner: Q | None = None, ids: Any = None) -> Q:
        """EXISTS a related row (matching ``inner`` / with pk in ``ids``), never NULL."""
        relation = resolved.relation
        assert relation is not None
        related = relation.related._base_manager.all()
        if relation.through is not None:  # many2many: through the link table
            link = relation.through._base_manager.filter(**{relation.local: OuterRef("pk")})
            if ids is not None:
                link = link.filter(**{f"{relation.remote}__in": ids})
            if inner is not None:
                link = link.filter(
                    **{f"{relation.remote}__in": related.filter(inner).values("pk").order_by()}
                )
            return Q(Exists(link))
        rows = related.filter(**{relation.remote: OuterRef(relation.local)})
        if ids is not None:
            rows = rows.filter(pk__in=ids)
        if inner is not None:
            rows = rows.filter(inner)
        return Q(Exists(rows))

    def by_name(self, resolved: _Resolved, op: str, value: Any, full: str) -> Q:
        related = resolved.spec.related_schema()
        if related.rec_name is None:
            raise _bad_value(full, value, resolved.spec.kind, "record ids")
        return self.related(resolved, self.term(related, related.rec_name, op, value, full))

    def hierarchy_ids(self, value: Any, full: str) -> list[int]:
        if _is_unset(value):
            return []
        return [_to_int(full, v) for v in _as_list(value) if not _is_unset(v)]

    def relation_term(
        self, schema: DomainSchema, resolved: _Resolved, op: str, value: Any, full: str
    ) -> Q:
        spec = resolved.spec
        relation = resolved.relation
        assert relation is not None
        many2one = relation.kind == "many2one"
        if op in ("any", "not any"):
            inner = self.domain(spec.related_schema(), value)
            q = self.related(resolved, inner)
            return q if op == "any" else ~q
        if op in _HIERARCHY_OPERATORS:
            related = spec.related_schema()
            if related.parent is None:
                raise DomainError(
                    f"Invalid operator {op!r} for field {full!r}: "
                    f"model {related.name!r} has no parent hierarchy",
                    field=full,
                )
            ids = self.hierarchy_ids(value, full)
            if not ids:
                return _false()
            tree = _hierarchy_sql(related.model, related._parent_field(), ids, op)
            return self.related(resolved, Q(In(F("pk"), tree)))
        if op in _LIKE_OPERATORS:
            q = self.by_name(resolved, _POSITIVE.get(op, op), value, full)
            return ~q if op in _POSITIVE else q
        if op in _ORDER_OPERATORS:
            if not many2one:
                raise self.unsupported(op, spec.kind, full)
            expr = F(spec.path)
            return _guarded(
                _ORDER_LOOKUPS[op](expr, _to_int(full, value, spec.kind)), expr, resolved.nullable
            )
        if op not in ("=", "!=", "in", "not in"):
            raise self.unsupported(op, spec.kind, full)
        items = _as_list(value)
        q = _false()
        ids = [v for v in items if not _is_unset(v) and not isinstance(v, str)]
        names = [v for v in items if isinstance(v, str)]
        if ids:
            ids = [_to_int(full, v, spec.kind) for v in ids]
            if many2one:
                expr = F(spec.path)
                q |= _guarded(In(expr, ids), expr, resolved.nullable)
            else:
                q |= self.related(resolved, ids=ids)
        if names:
            q |= self.by_name(resolved, "in", names, full)
        if any(_is_unset(v) for v in items):
            q |= Q(IsNull(F(spec.path), True)) if many2one else ~self.related(resolved)
        return q if op in ("=", "in") else ~q


def compile_domain(domain: str | list[Any] | tuple[Any, ...], *, schema: DomainSchema) -> Q:
    """The ``Q`` selecting the records of ``schema.model`` that match ``domain``.

    The ``Q`` uses only the schema's whitelisted fields; relations become ``EXISTS`` subqueries
    so a queryset filtered with it has no duplicate rows and runs as one SQL statement. No
    query is run to build it (``=``/``in`` on names and ``child_of`` are subqueries too).

    Raises:
        DomainError: see :func:`parse_domain`; also an unknown or non-whitelisted field
            (``Invalid field 'x' on model 'res.partner'``), an operator the field does not
            support, or a value of the wrong type (naming the field).
    """
    return _Compiler().domain(schema, parse_domain(domain))


def filter_by_domain(
    queryset: QuerySet[Any], domain: str | list[Any] | tuple[Any, ...], *, schema: DomainSchema
) -> QuerySet[Any]:
    """``queryset`` narrowed to the records matching ``domain``; lazy (runs no query)."""
    concrete = queryset.model._meta.concrete_model
    if concrete is not schema.model._meta.concrete_model:
        raise TypeError(f"Schema {schema.name!r} does not describe {queryset.model._meta.label}")
    return queryset.filter(compile_domain(domain, schema=schema))


# --------------------------------------------------------------------------------------------
# The registry's schemas (upstream res.partner names)
# --------------------------------------------------------------------------------------------


REGISTRANT_SCHEMA: DomainSchema  # defined below; related schemas point back to it lazily


def _char(path: str) -> FieldSpec:
    return FieldSpec(path, "char")


COMPANY_SCHEMA = DomainSchema(
    "g2p_registry_base.Company",
    {"name": _char("name"), "country_code": _char("country_code")},
    name="res.company",
)
GROUP_KIND_SCHEMA = DomainSchema(
    "g2p_registry_base.GroupKind", {"name": _char("name")}, name="g2p.group.kind"
)
TAG_SCHEMA = DomainSchema(
    "g2p_registry_base.RegistrantTag", {"name": _char("name")}, name="g2p.registrant.tags"
)
ID_TYPE_SCHEMA = DomainSchema(
    "g2p_registry_base.IdType", {"name": _char("name")}, name="g2p.id.type"
)
REG_ID_SCHEMA = DomainSchema(
    "g2p_registry_base.RegistrantId",
    {
        "id_type": FieldSpec("id_type", "many2one", schema=ID_TYPE_SCHEMA),
        "value": _char("value"),
        "expiry_date": FieldSpec("expiry_date", "date"),
        "status": FieldSpec("status", "selection"),
        "partner_id": FieldSpec("registrant", "many2one", schema=lambda: REGISTRANT_SCHEMA),
    },
    name="g2p.reg.id",
    rec_name="value",
)
PHONE_SCHEMA = DomainSchema(
    "g2p_registry_base.PhoneNumber",
    {
        "phone_no": _char("phone_no"),
        "phone_sanitized": _char("phone_sanitized"),
        "date_collected": FieldSpec("date_collected", "date"),
        "disabled": FieldSpec("disabled", "datetime"),
        "partner_id": FieldSpec("registrant", "many2one", schema=lambda: REGISTRANT_SCHEMA),
    },
    name="g2p.phone.number",
    rec_name="phone_sanitized",
)
BANK_SCHEMA = DomainSchema(
    "g2p_registry_base.Bank", {"name": _char("name"), "bic": _char("bic")}, name="res.bank"
)
BANK_ACCOUNT_SCHEMA = DomainSchema(
    "g2p_registry_base.BankAccount",
    {
        "bank_id": FieldSpec("bank", "many2one", schema=BANK_SCHEMA),
        "acc_number": _char("acc_number"),
        "partner_id": FieldSpec("registrant", "many2one", schema=lambda: REGISTRANT_SCHEMA),
    },
    name="res.partner.bank",
    rec_name="acc_number",
)
MEMBERSHIP_KIND_SCHEMA = DomainSchema(
    "g2p_registry_base.MembershipKind",
    {"name": _char("name"), "is_unique": FieldSpec("is_unique", "boolean")},
    name="g2p.group.membership.kind",
)
MEMBERSHIP_SCHEMA = DomainSchema(
    "g2p_registry_base.GroupMembership",
    {
        "group": FieldSpec("group", "many2one", schema=lambda: REGISTRANT_SCHEMA),
        "individual": FieldSpec("individual", "many2one", schema=lambda: REGISTRANT_SCHEMA),
        "kind": FieldSpec("kinds", "many2many", schema=MEMBERSHIP_KIND_SCHEMA),
        "start_date": FieldSpec("start_date", "datetime"),
        "ended_date": FieldSpec("ended_date", "datetime"),
    },
    name="g2p.group.membership",
    rec_name=None,
)

#: Registrants (individuals and groups) under upstream ``res.partner`` field names.
REGISTRANT_SCHEMA = DomainSchema(
    "g2p_registry_base.Registrant",
    {
        "name": _char("name"),
        "given_name": _char("given_name"),
        "family_name": _char("family_name"),
        "addl_name": _char("addl_name"),
        "gender": FieldSpec("gender_id", "char"),  # the stored gender value ("Female")
        "birthdate": FieldSpec("birthdate", "date"),
        "birthdate_not_exact": FieldSpec("birthdate_not_exact", "boolean"),
        "birth_place": _char("birth_place"),
        "age": FieldSpec("birthdate", "age"),
        "is_registrant": FieldSpec("is_registrant", "boolean"),
        "is_group": FieldSpec("is_group", "boolean"),
        "is_partial_group": FieldSpec("is_partial_group", "boolean"),
        "registration_date": FieldSpec("registration_date", "date"),
        "address": FieldSpec("address", "text"),
        "email": _char("email"),
        "civil_status": _char("civil_status"),
        "occupation": _char("occupation"),
        "income": FieldSpec("income", "decimal"),
        "kind": FieldSpec("kind", "many2one", schema=GROUP_KIND_SCHEMA),
        "company_id": FieldSpec("company", "many2one", schema=COMPANY_SCHEMA),
        "tags_ids": FieldSpec("tags", "many2many", schema=TAG_SCHEMA),
        "reg_ids": FieldSpec("reg_ids", "one2many", schema=REG_ID_SCHEMA),
        "phone_number_ids": FieldSpec("phone_numbers", "one2many", schema=PHONE_SCHEMA),
        "bank_ids": FieldSpec("bank_accounts", "one2many", schema=BANK_ACCOUNT_SCHEMA),
        "group_membership_ids": FieldSpec(
            "group_memberships", "one2many", schema=MEMBERSHIP_SCHEMA
        ),
        "individual_membership_ids": FieldSpec(
            "individual_memberships", "one2many", schema=MEMBERSHIP_SCHEMA
        ),
        "additional_g2p_info": FieldSpec("additional_g2p_info", "json"),
        "active": FieldSpec("active", "boolean"),
        "disabled": FieldSpec("disabled", "datetime"),
        "create_date": FieldSpec("create_date", "datetime"),
        "write_date": FieldSpec("write_date", "datetime"),
    },
    name="res.partner",
)
