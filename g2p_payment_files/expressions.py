"""The column language of payment file templates: a dotted field path and a few filters.

An expression is ``<path or "literal"> ( | <filter> [ : "argument" ] )*``, for example
``payment.amount_issued|amount``, ``beneficiary.family_name|upper``,
``payment.issuance_date|date:"%d/%m/%Y"`` or ``bank_account.acc_holder_name|default:"-"``.

Paths come from the whitelist :data:`FIELDS` (payment, entitlement, beneficiary, bank account,
batch, cycle and program fields), filters from :data:`FILTERS`; nothing else is accepted, and
nothing is ever evaluated as code (upstream rendered QWeb templates, which can call methods of
the records). A refused expression raises :class:`ExpressionError` with the problem; a file
configuration names the column too (:func:`compile_columns`).

Compiling is pure Python; rendering a row is a chain of plain functions over the row's values,
so a file is written from one ``.values()`` query whatever its size.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Subquery
from django.utils.translation import gettext as _

from g2p_registry_base.models import BankAccount

# Template path -> lookup of the ``Payment.objects.values()`` query (or an annotation below).
FIELDS: dict[str, str] = {
    "payment.id": "id",
    "payment.name": "name",
    "payment.amount_issued": "amount_issued",
    "payment.payment_fee": "payment_fee",
    "payment.currency": "currency",
    "payment.account_number": "account_number",
    "payment.issuance_date": "issuance_date",
    "entitlement.code": "entitlement__code",
    "entitlement.ern": "entitlement__ern",
    "entitlement.initial_amount": "entitlement__initial_amount",
    "entitlement.transfer_fee": "entitlement__transfer_fee",
    "entitlement.currency": "entitlement__currency",
    "entitlement.valid_from": "entitlement__valid_from",
    "entitlement.valid_until": "entitlement__valid_until",
    "beneficiary.id": "entitlement__registrant_id",
    "beneficiary.name": "entitlement__registrant__name",
    "beneficiary.given_name": "entitlement__registrant__given_name",
    "beneficiary.family_name": "entitlement__registrant__family_name",
    "beneficiary.email": "entitlement__registrant__email",
    "beneficiary.birthdate": "entitlement__registrant__birthdate",
    "bank_account.acc_number": "bank_acc_number",
    "bank_account.acc_holder_name": "bank_acc_holder_name",
    "bank_account.bank_name": "bank_bank_name",
    "batch.name": "batch__name",
    "cycle.name": "cycle__name",
    "program.name": "cycle__program__name",
}

# The payment's bank account: the beneficiary's account whose number the payment carries.
_ACCOUNT_FIELDS = {
    "bank_acc_number": "acc_number",
    "bank_acc_holder_name": "acc_holder_name",
    "bank_bank_name": "bank__name",
}


def account_annotations(lookups: Sequence[str]) -> dict[str, Subquery]:
    """Correlated subqueries for the bank account lookups among ``lookups`` (lazy)."""
    result = {}
    for lookup in lookups:
        if lookup in _ACCOUNT_FIELDS:
            accounts = BankAccount.objects.filter(
                registrant_id=OuterRef("entitlement__registrant_id"),
                acc_number=OuterRef("account_number"),
            ).order_by("pk")
            result[lookup] = Subquery(accounts.values(_ACCOUNT_FIELDS[lookup])[:1])
    return result


class ExpressionError(ValueError):
    """An expression the language does not accept; the message says why."""


_DATE_FORMAT = re.compile(r"(?:[^%]|%[YymdbBHMSjaAp%])*")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def _upper(value: Any, _arg: str | None) -> Any:
    return _text(value).upper()


def _lower(value: Any, _arg: str | None) -> Any:
    return _text(value).lower()


def _date(value: Any, arg: str | None) -> Any:
    if value is None:
        return ""
    if not isinstance(value, datetime.date):
        raise TypeError("not a date")
    return value.strftime(arg or "%Y-%m-%d")


def _amount(value: Any, _arg: str | None) -> Any:
    if value is None:
        return ""
    return format(Decimal(value).quantize(Decimal("0.01")), "f")


def _default(value: Any, arg: str | None) -> Any:
    return arg if value is None or value == "" else value


@dataclass(frozen=True)
class Filter:
    apply: Callable[[Any, str | None], Any]
    argument: str  # "none", "optional" or "required"


FILTERS: dict[str, Filter] = {
    "upper": Filter(_upper, "none"),
    "lower": Filter(_lower, "none"),
    "date": Filter(_date, "optional"),
    "amount": Filter(_amount, "none"),
    "default": Filter(_default, "required"),
}

_IDENT = r"[a-z_][a-z0-9_]*"
_STRING = r'"(?:[^"\\]|\\.)*"'
_TOKEN = re.compile(
    rf"\s*(?:(?P<string>{_STRING})|(?P<path>{_IDENT}(?:\.{_IDENT})*)|(?P<op>[|:]))\s*"
)


def _unquote(token: str) -> str:
    return re.sub(r"\\(.)", r"\1", token[1:-1])


def _tokens(source: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if match is None or match.end() == pos:
            raise ExpressionError(_("unexpected text at position %d") % (pos + 1))
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


@dataclass(frozen=True)
class Expression:
    """A compiled expression: ``lookup`` is the values() key it reads (None for a literal)."""

    source: str
    lookup: str | None
    literal: str
    filters: tuple[tuple[Filter, str | None], ...]

    def render(self, row: dict[str, Any]) -> str:
        value: Any = row[self.lookup] if self.lookup is not None else self.literal
        for flt, arg in self.filters:
            value = flt.apply(value, arg)
        return _text(value)


def compile_expression(source: str) -> Expression:
    """Parse ``source`` or raise :class:`ExpressionError` (unknown field or filter, missing or
    unexpected argument, bad date format, stray characters)."""
    if not source or not source.strip():
        raise ExpressionError(_("the expression is empty"))
    tokens = _tokens(source)
    kind, value = tokens[0]
    if kind == "string":
        lookup, literal = None, _unquote(value)
    elif kind == "path":
        if value not in FIELDS:
            raise ExpressionError(_('unknown field "%s"') % value)
        lookup, literal = FIELDS[value], ""
    else:
        raise ExpressionError(_("an expression starts with a field or a quoted text"))
    filters: list[tuple[Filter, str | None]] = []
    rest = tokens[1:]
    while rest:
        if rest[0] != ("op", "|") or len(rest) < 2 or rest[1][0] != "path":
            raise ExpressionError(_('expected "|" and a filter name after "%s"') % value)
        name = rest[1][1]
        if name not in FILTERS:
            raise ExpressionError(_('unknown filter "%s"') % name)
        flt, arg = FILTERS[name], None
        rest = rest[2:]
        if rest and rest[0] == ("op", ":"):
            if len(rest) < 2 or rest[1][0] != "string":
                raise ExpressionError(_('the argument of "%s" must be a quoted text') % name)
            if flt.argument == "none":
                raise ExpressionError(_('the filter "%s" takes no argument') % name)
            arg = _unquote(rest[1][1])
            rest = rest[2:]
        elif flt.argument == "required":
            raise ExpressionError(_('the filter "%s" needs an argument') % name)
        if name == "date" and arg is not None and not _DATE_FORMAT.fullmatch(arg):
            raise ExpressionError(_('unsupported date format "%s"') % arg)
        filters.append((flt, arg))
        value = name
    return Expression(source=source, lookup=lookup, literal=literal, filters=tuple(filters))


@dataclass(frozen=True)
class Column:
    header: str
    expression: Expression


def compile_columns(columns: Any, *, field: str = "columns") -> list[Column]:
    """The columns of a file configuration (``[{"header": …, "expression": …}, …]``), or a
    ``ValidationError`` on ``field`` naming each bad column by position and header."""
    if not isinstance(columns, list) or not columns:
        raise ValidationError({field: _("List at least one column.")})
    compiled, errors = [], []
    for position, column in enumerate(columns, start=1):
        if not isinstance(column, dict) or set(column) != {"header", "expression"}:
            errors.append(_('Column %d: give exactly "header" and "expression".') % position)
            continue
        header, source = column["header"], column["expression"]
        if not isinstance(header, str) or not header.strip():
            errors.append(_("Column %d: the header is empty.") % position)
            continue
        try:
            compiled.append(Column(header=header, expression=compile_expression(str(source))))
        except ExpressionError as exc:
            errors.append(
                _('Column %(n)d "%(header)s": %(problem)s.')
                % {"n": position, "header": header, "problem": exc}
            )
    if errors:
        raise ValidationError({field: errors})
    return compiled
