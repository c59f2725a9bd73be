"""Field descriptions of the models the RPC API exposes, and value conversion both ways.

Read values follow Odoo's wire shapes: empty scalars are ``False``, dates ``"YYYY-MM-DD"``,
datetimes ``"YYYY-MM-DD HH:MM:SS"`` in UTC, decimals floats, many2one ``[id, display_name]``
(or the bare id with ``load`` other than ``_classic_read``), x2many lists of ids.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from addons.g2p_rpc.errors import ValidationError

SCALAR_TYPES = frozenset(
    {"char", "text", "boolean", "integer", "float", "date", "datetime", "selection"}
)
RELATION_TYPES = frozenset({"many2one", "one2many", "many2many"})


@dataclass(frozen=True)
class RpcField:
    """One field of an exposed model.

    Attributes:
        name: the public (upstream Odoo) name.
        type: Odoo field type.
        string: the label.
        attr: the ORM field behind it (for many2one the relation name, not ``*_id``); ``None``
            for computed fields, which ``compute`` produces and which are read-only.
        relation: the RPC model a relational field points to.
        relation_field: for one2many, the public many2one on ``relation`` pointing back.
        readonly, required: as reported by ``fields_get`` (the model validates on save).
        selection: ``[[key, label], ...]`` or a callable returning it.
        compute: ``(record) -> value`` for computed fields (in RPC shape).
        prefetch: related names the computation needs (``prefetch_related``).
    """

    name: str
    type: str
    string: str
    attr: str | None = None
    relation: str | None = None
    relation_field: str | None = None
    readonly: bool = False
    required: bool = False
    selection: list[list[str]] | Callable[[], list[list[str]]] | None = None
    compute: Callable[[Any], Any] | None = None
    prefetch: tuple[str, ...] = field(default_factory=tuple)

    @property
    def stored(self) -> bool:
        return self.attr is not None

    @property
    def is_readonly(self) -> bool:
        return self.readonly or self.attr is None

    def selection_list(self) -> list[list[str]]:
        sel = self.selection
        if sel is None:
            return []
        return [list(pair) for pair in (sel() if callable(sel) else sel)]

    def describe(self) -> dict[str, Any]:
        """The ``fields_get`` entry."""
        info: dict[str, Any] = {
            "type": self.type,
            "string": self.string,
            "help": "",
            "required": self.required,
            "readonly": self.is_readonly,
            "store": self.stored,
            "sortable": self.stored and self.type not in ("one2many", "many2many"),
            "searchable": True,
            "manual": False,
            "depends": [],
            "company_dependent": False,
            "translate": False,
            "groupable": self.stored and self.type not in ("one2many", "many2many", "text"),
            "exportable": True,
            "change_default": False,
        }
        if self.type in RELATION_TYPES:
            info["relation"] = self.relation
            info["domain"] = []
            info["context"] = {}
            if self.type == "one2many":
                info["relation_field"] = self.relation_field
        if self.type == "selection":
            info["selection"] = self.selection_list()
        if self.type in ("char", "text"):
            info["trim"] = True
        return info


def to_wire(kind: str, value: Any) -> Any:
    """A scalar ORM value in Odoo's wire shape."""
    if value is None:
        return 0 if kind == "integer" else 0.0 if kind == "float" else False
    if kind in ("char", "text", "selection"):
        return value if value != "" else False
    if kind == "datetime":
        if isinstance(value, datetime.datetime):
            if timezone.is_aware(value):
                value = value.astimezone(datetime.UTC)
            return value.strftime("%Y-%m-%d %H:%M:%S")
        return value
    if kind == "date":
        return value.isoformat() if isinstance(value, datetime.date) else value
    if kind == "float":
        return float(value)
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


def from_wire(fld: RpcField, value: Any) -> Any:
    """An incoming scalar value as the ORM wants it; ``ValidationError`` naming the field."""
    kind = fld.type
    if kind in ("char", "text", "selection"):
        if value is False or value is None:
            return "" if kind != "selection" else None
        if not isinstance(value, str):
            raise ValidationError(f"{fld.name}: a text value is expected, not {value!r}.")
        return value
    if kind == "boolean":
        return bool(value)
    if value is False or value is None or value == "":
        return None
    try:
        if kind == "date":
            if isinstance(value, datetime.datetime):
                return value.date()
            if isinstance(value, datetime.date):
                return value
            return datetime.date.fromisoformat(str(value)[:10])
        if kind == "datetime":
            if isinstance(value, datetime.datetime):
                parsed = value
            else:
                parsed = datetime.datetime.fromisoformat(str(value))
            if timezone.is_naive(parsed):
                parsed = parsed.replace(tzinfo=datetime.UTC)
            return parsed
        if kind == "integer":
            if isinstance(value, bool):
                raise ValueError(value)
            return int(value)
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError(value)
            return decimal.Decimal(str(value))
    except (TypeError, ValueError, decimal.InvalidOperation) as exc:
        raise ValidationError(f"{fld.name}: {value!r} is not a valid {kind} value.") from exc
    return value
