"""Program managers under their upstream model names, with their configuration and methods.

Upstream has two layers per manager kind: a wrapper ("selector") model such as
``g2p.cycle.manager`` with ``program_id`` and a Reference ``manager_ref_id`` (``"model,id"``)
to a concrete manager such as ``g2p.cycle.manager.default``, whose fields are its
configuration. Here both layers are views of one :class:`~g2p_programs.models.ManagerAssignment`
row: a wrapper record and the concrete record it points to share the assignment's id, the
concrete model is the assignment's registered manager class (``upstream_model``, or
``<kind prefix>.<key>`` for managers upstream does not have), and every configuration key is
a field under upstream's name (nested recurrence keys are flat, as upstream's mixin fields).

Writes go through the programs services the back office uses: ``write`` through
:func:`~g2p_programs.services.programs.manager_configure` (the manager's pydantic ``Config``
validates; a refusal names the field and changes nothing), ``create`` through ``manager_add``,
``unlink`` through ``manager_remove``. Manager methods (``new_cycle``, ``prepare_entitlements``,
``send_payments``, …) run the same services as the program and cycle buttons and return
upstream's values: record ids, counts or notification actions.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import json
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

import pydantic
from django.apps import apps
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet

from addons.g2p_rpc.errors import AccessError, MissingError, UserError, ValidationError
from addons.g2p_rpc.fields import RpcField
from addons.g2p_rpc.models_map import ConfigAdapter, ModelAdapter, _ids
from addons.g2p_rpc.programs_map import _action
from g2p_programs.choices import ManagerKind, MembershipState
from g2p_programs.models import (
    Cycle,
    CycleMembership,
    Entitlement,
    ManagerAssignment,
    PaymentBatchTag,
    Program,
    ProgramMembership,
)
from g2p_programs.program_managers.deduplication import DEDUP_STATES
from g2p_programs.recurrence import (
    BYDAY_LABELS,
    END_TYPE_LABELS,
    MONTH_BY_LABELS,
    RRULE_TYPE_LABELS,
    WEEKDAY_LABELS,
)
from g2p_programs.registry import BaseManager, registry
from g2p_programs.services import cycles, entitlements, payments, programs
from g2p_registry_base.models import IdType
from g2p_registry_base.services import require_perm
from pbms import domains


@dataclass(frozen=True)
class KindInfo:
    """Upstream names of one manager kind: wrapper model, program field, concrete prefix."""

    wrapper: str
    program_field: str
    prefix: str
    string: str


KINDS: dict[str, KindInfo] = {
    ManagerKind.ELIGIBILITY: KindInfo(
        "g2p.eligibility.manager",
        "eligibility_managers",
        "g2p.program_membership.manager",
        "Eligibility Managers",
    ),
    ManagerKind.DEDUPLICATION: KindInfo(
        "g2p.deduplication.manager",
        "deduplication_managers",
        "g2p.deduplication.manager",
        "Deduplication Managers",
    ),
    ManagerKind.NOTIFICATION: KindInfo(
        "g2p.program.notification.manager",
        "notification_managers",
        "g2p.program.notification.manager",
        "Notification Managers",
    ),
    ManagerKind.PROGRAM: KindInfo(
        "g2p.program.manager", "program_managers", "g2p.program.manager", "Program Managers"
    ),
    ManagerKind.CYCLE: KindInfo(
        "g2p.cycle.manager", "cycle_managers", "g2p.cycle.manager", "Cycle Managers"
    ),
    ManagerKind.ENTITLEMENT: KindInfo(
        "g2p.program.entitlement.manager",
        "entitlement_managers",
        "g2p.program.entitlement.manager",
        "Entitlement Managers",
    ),
    ManagerKind.PAYMENT: KindInfo(
        "g2p.program.payment.manager",
        "payment_managers",
        "g2p.program.payment.manager",
        "Payment Managers",
    ),
}


def concrete_model_name(cls: type[BaseManager]) -> str:
    """The RPC model of a manager class: upstream's, else ``<kind prefix>.<key>``."""
    return cls.upstream_model or f"{KINDS[cls.kind].prefix}.{cls.key}"


def _model_of(kind: str, key: str) -> str | None:
    try:
        return concrete_model_name(registry.get(kind, key))
    except DjangoValidationError:  # a key no longer registered
        return None


def program_manager_fields() -> list[RpcField]:
    """The seven manager relations of ``g2p.program``: ids of its active wrappers per kind."""

    def ids_of(kind: str) -> Callable[[Program], list[int]]:
        return lambda p: [a.pk for a in p.managers.all() if a.kind == kind and a.active]

    return [
        RpcField(
            info.program_field,
            "many2many",
            info.string,
            relation=info.wrapper,
            compute=ids_of(kind),
            prefetch=("managers",),
        )
        for kind, info in KINDS.items()
    ]


# --- configuration fields ------------------------------------------------------------------------

# Upstream field names and types where they differ from the configuration key, per key path.
_RENAMED: dict[str, tuple[str, str, str, str | None]] = {
    # path: (upstream name, odoo type, codec, relation)
    "id_types": ("supported_id_document_types", "many2many", "id_type_names", "g2p.id.type"),
    "batch_tag_ids": ("batch_tag_ids", "many2many", "ids", "g2p.payment.batch.tag"),
    "file_config_ids": ("payment_file_config_ids", "many2many", "ids", "g2p.payment.file.config"),
    "fields": ("dedup_fields", "char", "csv", None),
    "items": ("entitlement_items", "text", "json", None),
    "eligibility_domain": ("eligibility_domain", "text", "plain", None),
    "amount_per_cycle": ("amount_per_cycle", "monetary", "decimal", None),
    "amount_per_individual_in_group": (
        "amount_per_individual_in_group",
        "monetary",
        "decimal",
        None,
    ),
    "transfer_fee_amt": ("transfer_fee_amt", "monetary", "decimal", None),
}

# Upstream labels of the configuration fields.
_STRINGS = {
    "eligibility_domain": "Domain",
    "supported_id_document_types": "Supported ID Document Types",
    "number_of_cycles": "Number of cycles",
    "copy_last_cycle_on_new_cycle": "Copy previous cycle",
    "cycle_duration": "Recurrence",
    "approver_group": "Approver Group",
    "auto_approve_entitlements": "Auto-approve entitlements",
    "amount_per_cycle": "Amount per cycle",
    "amount_per_individual_in_group": "Amount per individual in group",
    "max_individual_in_group": "Maximum number of individuals in group",
    "transfer_fee_pct": "Transfer Fee(%)",
    "transfer_fee_amt": "Transfer Fee Amount",
    "create_batch": "Automatically Create Batch",
    "batch_tag_ids": "Batch Tags",
    "payment_file_config_ids": "Payment File Configs",
    "auto_generate_voucher_on_approval": "Auto Generate Voucher on Approval",
    "rrule_type": "Recurrence",
    "end_type": "Until",
    "count": "Repeat",
    "until": "Repeat Until",
}


# Odoo's labels of the recurrence selections.
_SELECTION_LABELS: dict[str, dict[str, str]] = {
    "rrule_type": RRULE_TYPE_LABELS,
    "month_by": MONTH_BY_LABELS,
    "byday": BYDAY_LABELS,
    "weekday": WEEKDAY_LABELS,
    "end_type": END_TYPE_LABELS,
}


@dataclass(frozen=True)
class ConfigField:
    """One configuration key of a manager as an upstream field.

    ``codec``: ``plain`` (the JSON value as is), ``decimal`` (a decimal string in the config,
    a float on the wire), ``date``, ``ids`` (a list of ids), ``id_type_names`` (ID type names
    in the config, ids of ``g2p.id.type`` on the wire), ``csv`` (a list of names, one
    comma-separated string on the wire) or ``json`` (any JSON value, as JSON text).
    """

    name: str
    path: str
    type: str
    string: str
    codec: str = "plain"
    relation: str | None = None
    selection: tuple[tuple[str, str], ...] = ()


def _selection_of(annotation: Any) -> tuple[tuple[str, str], ...] | None:
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return tuple(
            (str(m.value), str(getattr(m, "label", m.name)))
            for m in annotation  # type: ignore[attr-defined]
        )
    if typing.get_origin(annotation) is typing.Literal:
        return tuple((str(v), str(v)) for v in typing.get_args(annotation))
    return None


def _unoptional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def config_fields(model: type[pydantic.BaseModel], prefix: str = "") -> list[ConfigField]:
    """The upstream fields of a ``Config`` model; nested models are flattened (their keys
    become fields of their own, as upstream's recurrence mixin)."""
    result: list[ConfigField] = []
    for key, info in model.model_fields.items():
        path = prefix + key
        annotation = _unoptional(info.annotation)
        if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
            result.extend(config_fields(annotation, path + "."))
            continue
        if key in _RENAMED:
            name, kind, codec, relation = _RENAMED[key]
            result.append(
                ConfigField(name, path, kind, _label(name, info), codec=codec, relation=relation)
            )
            continue
        selection = _selection_of(annotation)
        if selection is not None and key in _SELECTION_LABELS:
            labels = _SELECTION_LABELS[key]
            selection = tuple((value, labels.get(value, label)) for value, label in selection)
        if selection is not None:
            result.append(
                ConfigField(key, path, "selection", _label(key, info), selection=selection)
            )
        elif annotation is bool:
            result.append(ConfigField(key, path, "boolean", _label(key, info)))
        elif annotation is int:
            result.append(ConfigField(key, path, "integer", _label(key, info)))
        elif annotation in (Decimal, float):
            result.append(ConfigField(key, path, "float", _label(key, info), codec="decimal"))
        elif annotation is datetime.date:
            result.append(ConfigField(key, path, "date", _label(key, info), codec="date"))
        elif annotation is str:
            result.append(ConfigField(key, path, "char", _label(key, info)))
        else:
            result.append(ConfigField(key, path, "text", _label(key, info), codec="json"))
    return result


def _label(name: str, info: Any) -> str:
    return _STRINGS.get(name) or info.title or name.replace("_", " ").capitalize()


def _get_path(data: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)  # type: ignore[assignment]
    return data


def _set_path(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[leaf] = value


def _m2m_ids(current: list[int], value: Any, name: str) -> list[int]:
    """``current`` after Odoo's many2many commands (or a plain list of ids, which replaces)."""
    if isinstance(value, list | tuple) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        return list(value)
    if not isinstance(value, list | tuple):
        raise ValidationError(f"{name}: a list of ids or of x2many commands is expected.")
    ids = list(current)
    for command in value:
        code = command[0] if isinstance(command, list | tuple) and command else None
        if code == 4 and len(command) > 1:
            if command[1] not in ids:
                ids.append(command[1])
        elif code == 3 and len(command) > 1:
            ids = [i for i in ids if i != command[1]]
        elif code == 5:
            ids = []
        elif code == 6 and len(command) > 2:
            ids = _ids(command[2])
        else:
            raise ValidationError(f"{name}: invalid many2many command {command!r}.")
    return ids


def _config_value_to_wire(field: ConfigField, value: Any) -> Any:
    codec = field.codec
    if codec == "decimal":
        return float(Decimal(str(value))) if value not in (None, "") else 0.0
    if codec == "ids":
        return list(value or [])
    if codec == "id_type_names":
        names = list(value or [])
        if not names:
            return []
        by_name: dict[str, list[int]] = {}
        for pk, type_name in IdType.objects.filter(name__in=names).values_list("pk", "name"):
            by_name.setdefault(type_name, []).append(pk)
        return sorted(pk for n in names for pk in by_name.get(n, []))
    if codec == "csv":
        return ",".join(value or []) or False
    if codec == "json":
        return json.dumps(value)
    if field.type == "boolean":
        return bool(value)
    if field.type == "integer":
        return int(value or 0)
    if value is None or value == "":
        return False
    return value


def _wire_to_config_value(field: ConfigField, value: Any, current: Any) -> Any:
    """The configuration value for an incoming wire value; ``ValidationError`` naming the
    field when it cannot be one (the manager's ``Config`` validates the rest)."""
    codec, name = field.codec, field.name
    if codec == "decimal":
        if isinstance(value, bool) or value is None:
            raise ValidationError(f"{name}: a number is expected, not {value!r}.")
        if value is False:
            return "0"
        try:
            return str(Decimal(str(value)))
        except decimal.InvalidOperation as exc:
            raise ValidationError(f"{name}: a number is expected, not {value!r}.") from exc
    if codec == "ids":
        return _m2m_ids(list(current or []), value, name)
    if codec == "id_type_names":
        ids = _m2m_ids(_config_value_to_wire(field, current), value, name)
        found = dict(IdType.objects.filter(pk__in=ids).values_list("pk", "name"))
        missing = sorted(set(ids) - set(found))
        if missing:
            raise ValidationError(f"{name}: unknown ID types {missing}.")
        return sorted({found[i] for i in ids})
    if codec == "csv":
        if value is False or value is None:
            return []
        if not isinstance(value, str):
            raise ValidationError(f"{name}: comma-separated names are expected.")
        return [part.strip() for part in value.split(",") if part.strip()]
    if codec == "json":
        if not isinstance(value, str):
            raise ValidationError(f"{name}: JSON text is expected.")
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"{name}: invalid JSON ({exc.msg}).") from exc
    if codec == "date":
        if value is False or value is None:
            return None
        if isinstance(value, datetime.date):
            return value.isoformat()[:10]
        return value
    if field.type == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(f"{name}: an integer is expected, not {value!r}.")
        return value
    if field.type == "boolean":
        return bool(value)
    if field.type in ("char", "text", "selection"):
        if value is False or value is None:
            return "" if field.type != "selection" else None
        if not isinstance(value, str):
            raise ValidationError(f"{name}: a text value is expected, not {value!r}.")
    return value


# --- shared adapter behaviour --------------------------------------------------------------------


def _schema(adapter: ModelAdapter) -> domains.DomainSchema:
    return domains.DomainSchema(
        ManagerAssignment,
        {
            "name": domains.FieldSpec("name", "char"),
            "program_id": domains.FieldSpec(
                "program", "many2one", schema=lambda: adapter.registry["g2p.program"].schema
            ),
            "active": domains.FieldSpec("active", "boolean"),
            "sequence": domains.FieldSpec("sequence", "integer"),
        },
        name=adapter.name,
    )


def _one_id(value: Any, name: str) -> int:
    """A record given as an id or a one-id list (a recordset on the wire)."""
    ids = _ids(value)
    if len(ids) != 1:
        raise ValueError(f"Expected singleton: {name} must be one record id, not {value!r}.")
    return ids[0]


class AssignmentAdapter(ModelAdapter):
    """Common ground of wrapper and concrete manager models (one assignment row each)."""

    model = ManagerAssignment
    app_perm = "g2p_programs.{verb}_managerassignment"
    has_active = True
    kind: ClassVar[str]

    def __init__(self, registry_: dict[str, ModelAdapter]) -> None:
        super().__init__(registry_)
        self.schema = _schema(self)  # type: ignore[misc]

    def display_name(self, obj: Any) -> str:
        return str(obj.name)

    def base_queryset(self, user: Any) -> QuerySet[Any]:
        return ManagerAssignment.objects.filter(kind=self.kind).select_related("program")

    def unlink(self, user: Any, ids: Any, **_: Any) -> bool:
        for obj in self.records(user, ids):
            programs.manager_remove(assignment=obj, actor=user)
        return True


class WrapperAdapter(AssignmentAdapter):
    """Upstream's ``g2p.<kind>.manager``: which concrete manager a program uses."""

    extra_methods: ClassVar[frozenset[str]] = frozenset({"open_manager_form"})

    def declare_fields(self) -> list[RpcField]:
        return [
            RpcField(
                "program_id",
                "many2one",
                "Program",
                attr="program",
                relation="g2p.program",
                required=True,
            ),
            RpcField("manager_id", "integer", "Manager", compute=lambda a: a.pk),
            RpcField(
                "manager_ref_id",
                "reference",
                "Manager",
                compute=lambda a: (
                    f"{model},{a.pk}" if (model := _model_of(a.kind, a.manager_key)) else False
                ),
                required=True,
            ),
            RpcField("name", "char", "Name", attr="name", readonly=True),
            RpcField("active", "boolean", "Active", attr="active", readonly=True),
            RpcField("sequence", "integer", "Sequence", attr="sequence", readonly=True),
        ]

    def selection(self) -> list[list[str]]:
        return [
            [concrete_model_name(registry.get(self.kind, key)), label]
            for key, label in registry.choices(self.kind)
        ]

    def fields_get(self, user: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        result = super().fields_get(user, *args, **kwargs)
        ref = result.get("manager_ref_id")
        if ref is not None and "type" in ref:
            ref["selection"] = self.selection()
        return result

    def create(self, user: Any, vals_list: Any, **_: Any) -> Any:
        """Link a concrete manager to its program. The concrete record already is its
        program's manager (created with ``program_id``), so this returns its id when
        ``program_id`` and ``manager_ref_id`` agree, as upstream's wrapper would be."""
        single = isinstance(vals_list, dict)
        ids = [self.link(user, v) for v in ([vals_list] if single else vals_list)]
        return ids[0] if single else ids

    def link(self, user: Any, vals: Any) -> int:
        self.require(user, "add")
        if not isinstance(vals, dict):
            raise ValueError(f"Invalid values {vals!r}: a dictionary is expected.")
        extra = sorted(set(vals) - {"program_id", "manager_ref_id", "manager_id"})
        if extra:
            raise UserError(f"These fields cannot be set on '{self.name}': {extra}")
        ref = vals.get("manager_ref_id")
        model, _sep, raw_id = str(ref or "").rpartition(",")
        if not model or not raw_id.strip().isdigit():
            raise ValidationError("manager_ref_id: a reference 'model.name,id' is required.")
        adapter = self.registry.get(model.strip())
        if not isinstance(adapter, ConcreteAdapter) or adapter.kind != self.kind:
            raise ValidationError(f"manager_ref_id: {model!r} is not a {self.kind} manager.")
        [obj] = adapter.records(user, [int(raw_id)])
        if vals.get("program_id") not in (None, False, obj.program_id):
            raise ValidationError(
                "program_id: the manager belongs to another program; create it for this one."
            )
        return int(obj.pk)

    def check_writable(self, verb: str) -> None:
        if verb == "change":
            raise AccessError(
                f"'{self.name}' records follow their concrete manager; write on the manager itself."
            )

    def write(self, user: Any, ids: Any, vals: Any, **_: Any) -> bool:
        self.check_writable("change")
        return False

    def open_manager_form(self, user: Any, ids: Any = None, **_: Any) -> Any:
        [obj] = self.records(user, [_one_id(ids, "ids")])
        self.require(user, "view")
        model = _model_of(obj.kind, obj.manager_key)
        if model is None:
            return {
                "type": "ir.actions.client",
                "tag": "display_notification",
                "params": {
                    "title": "Manager",
                    "message": "The Manager field must be filled-up.",
                    "sticky": False,
                    "type": "danger",
                },
            }
        return {
            "name": obj.name,
            "type": "ir.actions.act_window",
            "res_model": model,
            "res_id": obj.pk,
            "view_mode": "form",
            "target": "new",
        }


class ConcreteAdapter(AssignmentAdapter):
    """A concrete manager model: the assignments of one registered manager class, its
    configuration keys as fields, and upstream's methods of its kind."""

    manager_class: ClassVar[type[BaseManager]]
    methods: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, registry_: dict[str, ModelAdapter]) -> None:
        self.config = {f.name: f for f in config_fields(self.manager_class.Config)}
        super().__init__(registry_)

    def base_queryset(self, user: Any) -> QuerySet[Any]:
        return super().base_queryset(user).filter(manager_key=self.manager_class.key)

    def declare_fields(self) -> list[RpcField]:
        fields = [
            RpcField("name", "char", "Manager Name", attr="name", required=True),
            RpcField(
                "program_id",
                "many2one",
                "Program",
                attr="program",
                relation="g2p.program",
                required=True,
            ),
            RpcField("active", "boolean", "Active", attr="active", readonly=True),
            RpcField("sequence", "integer", "Sequence", attr="sequence", readonly=True),
        ]
        for cfg in self.config.values():
            fields.append(
                RpcField(
                    cfg.name,
                    cfg.type,
                    cfg.string,
                    relation=cfg.relation,
                    selection=[list(p) for p in cfg.selection] if cfg.selection else None,
                    compute=self._reader(cfg),
                )
            )
        return fields

    def _reader(self, cfg: ConfigField) -> Callable[[Any], Any]:
        def read(obj: ManagerAssignment) -> Any:
            return _config_value_to_wire(cfg, _get_path(self.current_config(obj), cfg.path))

        return read

    def current_config(self, obj: ManagerAssignment) -> dict[str, Any]:
        """The stored configuration with the manager's defaults filled in (cached per row)."""
        cached = getattr(obj, "_rpc_config", None)
        if cached is None:
            try:
                cached = self.manager_class.validate_config(obj.config).model_dump(mode="json")
            except DjangoValidationError:
                cached = dict(obj.config or {})
            obj._rpc_config = cached  # type: ignore[attr-defined]
        return cached

    def fields_get(self, user: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        result = super().fields_get(user, *args, **kwargs)
        for name in self.config:
            info = result.get(name)
            if info is None:
                continue
            if "readonly" in info:
                info["readonly"] = False
            if "store" in info:
                info["store"] = True
            if self.config[name].type == "monetary" and "currency_field" not in info:
                info["currency_field"] = "currency_id"
        return result

    def default_get(self, user: Any, fields_list: list[str] | None = None, **_: Any) -> dict:
        result = super().default_get(user, fields_list)
        defaults = self.manager_class.validate_config({}).model_dump(mode="json")
        for name, cfg in self.config.items():
            if fields_list and name not in fields_list:
                continue
            result[name] = _config_value_to_wire(cfg, _get_path(defaults, cfg.path))
        return result

    def config_with(self, base: dict[str, Any], vals: dict[str, Any]) -> dict[str, Any]:
        config = json.loads(json.dumps(base))
        for name, value in vals.items():
            cfg = self.config[name]
            _set_path(
                config, cfg.path, _wire_to_config_value(cfg, value, _get_path(base, cfg.path))
            )
        return config

    def split(self, vals: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """``vals`` as (assignment fields, configuration fields); unknown and read-only
        fields are refused."""
        if not isinstance(vals, dict):
            raise ValueError(f"Invalid values {vals!r}: a dictionary is expected.")
        own: dict[str, Any] = {}
        config: dict[str, Any] = {}
        for name, value in vals.items():
            if name in self.config:
                config[name] = value
                continue
            fld = self.field(name)
            if name not in ("name", "program_id"):
                raise UserError(f"The field {name!r} of {self.name!r} is read-only.")
            own[fld.name] = value
        return own, config

    def renamed(self, exc: DjangoValidationError) -> ValidationError:
        """A configuration refusal with each key path replaced by its upstream field name."""
        by_path = {cfg.path: cfg.name for cfg in self.config.values()}
        messages = []
        items = exc.message_dict.items() if hasattr(exc, "error_dict") else [("", exc.messages)]
        for key, texts in items:
            for text in texts:
                path, sep, rest = text.partition(": ")
                if key == "config" and sep:
                    head = path
                    while head and head not in by_path:
                        head = head.rpartition(".")[0]
                    if head:
                        tail = path[len(head) :]
                        messages.append(f"{by_path[head]}{tail}: {rest}")
                        continue
                if key and key not in ("__all__", "config"):
                    messages.append(f"{key}: {text}")
                else:
                    messages.append(text)
        return ValidationError("\n".join(messages))

    def write(self, user: Any, ids: Any, vals: Any, **_: Any) -> bool:
        own, config_vals = self.split(vals)
        for obj in self.records(user, ids):
            if "program_id" in own and own["program_id"] != obj.program_id:
                raise UserError("The program of a manager cannot be changed.")
            name = own.get("name")
            if "name" in own and not isinstance(name, str):
                raise ValidationError("name: a text value is expected.")
            try:
                config = self.config_with(self.current_config(obj), config_vals)
                programs.manager_configure(assignment=obj, config=config, name=name, actor=user)
            except DjangoValidationError as exc:
                raise self.renamed(exc) from exc
        return True

    def create_one(self, user: Any, vals: dict[str, Any]) -> int:
        own, config_vals = self.split(vals)
        program_id = own.get("program_id")
        if not isinstance(program_id, int) or isinstance(program_id, bool):
            raise ValidationError("program_id: a program is required.")
        program = Program.objects.filter(pk=program_id).first()
        if program is None:
            raise MissingError("Record does not exist or has been deleted. (g2p.program)")
        name = own.get("name") or "Default"
        if not isinstance(name, str):
            raise ValidationError("name: a text value is expected.")
        defaults = self.manager_class.validate_config({}).model_dump(mode="json")
        try:
            config = self.config_with(defaults, config_vals)
            assignment = programs.manager_add(
                program=program,
                kind=self.kind,
                manager_key=self.manager_class.key,
                name=name,
                config=config,
                actor=user,
            )
        except DjangoValidationError as exc:
            raise self.renamed(exc) from exc
        return int(assignment.pk)

    def copy(self, user: Any, ids: Any, default: dict[str, Any] | None = None, **_: Any) -> int:
        """A new manager of the same program with the same configuration (``default``
        overrides; for single-manager kinds the program must have none active)."""
        [obj] = self.records(user, [_one_id(ids, "ids")])
        vals: dict[str, Any] = {"name": f"{obj.name} (copy)", "program_id": obj.program_id}
        current = self.current_config(obj)
        for name, cfg in self.config.items():
            vals[name] = _config_value_to_wire(cfg, _get_path(current, cfg.path))
        if default is not None and not isinstance(default, dict):
            raise ValueError("default must be a dictionary")
        vals.update(default or {})
        return self.create_one(user, vals)

    # -- method helpers ----------------------------------------------------------------------

    def manager(self, user: Any, ids: Any) -> ManagerAssignment:
        """The one manager a method is called on; it must be active on its program."""
        self.require(user, "view")
        [obj] = self.records(user, [_one_id(ids, "ids")])
        if not obj.active:
            raise UserError(f"The manager {obj.name!r} is not active on its program.")
        return obj

    def cycle_of(self, obj: ManagerAssignment, value: Any) -> Cycle:
        cycle = Cycle.objects.select_related("program").filter(pk=_one_id(value, "cycle")).first()
        if cycle is None:
            raise MissingError("Record does not exist or has been deleted. (g2p.cycle)")
        if cycle.program_id != obj.program_id:
            raise UserError(
                f"The cycle {cycle.name!r} does not belong to the program of this manager."
            )
        return cycle


def _refuse_subset(value: Any, name: str, what: str) -> None:
    if value not in (None, False):
        raise UserError(f"{name} cannot be chosen: this step works on {what}.")


class ProgramManagerMethods(ConcreteAdapter):
    methods = frozenset({"new_cycle", "last_cycle", "enroll_eligible_registrants"})

    def new_cycle(self, user: Any, ids: Any = None, **_: Any) -> int:
        """The program's next cycle with its enrolled beneficiaries; returns its id."""
        obj = self.manager(user, ids)
        cycle, _notification = cycles.program_create_new_cycle(program=obj.program, actor=user)
        return int(cycle.pk)

    def last_cycle(self, user: Any, ids: Any = None, **_: Any) -> Any:
        obj = self.manager(user, ids)
        require_perm(user, "g2p_programs.view_cycle")
        last = Cycle.objects.filter(program_id=obj.program_id).order_by("-sequence").first()
        return last.pk if last is not None else False

    def enroll_eligible_registrants(
        self, user: Any, ids: Any = None, state: Any = None, **_: Any
    ) -> Any:
        """``state`` None: every membership (the program's "Enroll Eligible Registrants");
        ``["enrolled", "not_eligible"]``: its "Verify eligibility"."""
        obj = self.manager(user, ids)
        if state in (None, False):
            return _action(programs.program_enroll_eligible(program=obj.program, actor=user))
        states = [state] if isinstance(state, str) else list(state)
        if sorted(states) == [MembershipState.ENROLLED, MembershipState.NOT_ELIGIBLE]:
            return _action(programs.program_verify_eligibility(program=obj.program, actor=user))
        raise UserError(
            "Enrolment runs over every membership (state None) or re-checks the enrolled and "
            "not eligible ones (['enrolled', 'not_eligible'])."
        )


class EligibilityManagerMethods(ConcreteAdapter):
    methods = frozenset(
        {"import_eligible_registrants", "enroll_eligible_registrants", "verify_cycle_eligibility"}
    )

    def import_eligible_registrants(
        self, user: Any, ids: Any = None, state: Any = MembershipState.DRAFT, **_: Any
    ) -> Any:
        obj = self.manager(user, ids)
        return _action(
            programs.program_import_eligible(
                assignment=obj, state=state or MembershipState.DRAFT, actor=user
            )
        )

    def enroll_eligible_registrants(
        self, user: Any, ids: Any = None, program_memberships: Any = None, **_: Any
    ) -> list[int]:
        """The ids of ``program_memberships`` (of this program) that pass this manager."""
        obj = self.manager(user, ids)
        require_perm(user, "g2p_programs.view_programmembership")
        manager = obj.instance()
        chosen = ProgramMembership.objects.filter(pk__in=_ids(program_memberships))
        return sorted(manager.eligible(chosen).values_list("pk", flat=True))

    def verify_cycle_eligibility(
        self, user: Any, ids: Any = None, cycle: Any = None, membership: Any = None, **_: Any
    ) -> list[int]:
        """The ids of the cycle memberships ``membership`` of ``cycle`` that pass this
        manager (upstream forgot to filter by the cycle; here they must be of it)."""
        obj = self.manager(user, ids)
        require_perm(user, "g2p_programs.view_cyclemembership")
        the_cycle = self.cycle_of(obj, cycle)
        chosen = CycleMembership.objects.filter(pk__in=_ids(membership))
        eligible = obj.instance().verify_cycle_eligibility(the_cycle, chosen)
        return sorted(eligible.values_list("pk", flat=True))


class DeduplicationManagerMethods(ConcreteAdapter):
    methods = frozenset({"deduplicate_beneficiaries", "deduplicate"})

    def deduplicate_beneficiaries(
        self, user: Any, ids: Any = None, states: Any = None, **_: Any
    ) -> Any:
        """This manager's duplicates among the memberships in draft / enrolled / paused /
        duplicated: the number found (upstream's return), or the started job's notification."""
        obj = self.manager(user, ids)
        if states not in (None, False):
            given = {states} if isinstance(states, str) else set(states)
            if given - {"eligible"} != {str(s) for s in DEDUP_STATES}:
                raise UserError(
                    "Deduplication runs over the draft, enrolled, paused and duplicated "
                    "memberships."
                )
        result = programs.manager_deduplicate(assignment=obj, actor=user)
        if "queued" in result.data:
            return _action(result)
        return int(result.data["found"])

    def deduplicate(self, user: Any, ids: Any = None, **kwargs: Any) -> Any:
        """Alias of :meth:`deduplicate_beneficiaries`."""
        return self.deduplicate_beneficiaries(user, ids, **kwargs)


class CycleManagerMethods(ConcreteAdapter):
    methods = frozenset(
        {
            "check_eligibility",
            "prepare_entitlements",
            "copy_beneficiaries_from_program",
            "approve_cycle",
            "mark_distributed",
            "mark_ended",
            "mark_cancelled",
        }
    )

    def check_eligibility(
        self, user: Any, ids: Any = None, cycle: Any = None, beneficiaries: Any = None, **_: Any
    ) -> Any:
        obj = self.manager(user, ids)
        _refuse_subset(beneficiaries, "beneficiaries", "the cycle's draft, enrolled and not "
                       "eligible members")  # fmt: skip
        return _action(cycles.cycle_check_eligibility(cycle=self.cycle_of(obj, cycle), actor=user))

    def prepare_entitlements(self, user: Any, ids: Any = None, cycle: Any = None, **_: Any) -> Any:
        obj = self.manager(user, ids)
        return _action(
            entitlements.entitlements_prepare(cycle=self.cycle_of(obj, cycle), actor=user)
        )

    def copy_beneficiaries_from_program(
        self, user: Any, ids: Any = None, cycle: Any = None, state: Any = "enrolled", **_: Any
    ) -> Any:
        obj = self.manager(user, ids)
        if state not in (None, False, "enrolled"):
            raise UserError("Beneficiaries are copied into a cycle as enrolled.")
        return _action(cycles.cycle_copy_beneficiaries(cycle=self.cycle_of(obj, cycle), actor=user))

    def approve_cycle(
        self,
        user: Any,
        ids: Any = None,
        cycle: Any = None,
        auto_approve: Any = None,
        entitlement_manager: Any = None,
        **_: Any,
    ) -> Any:
        """Approve a cycle awaiting approval. Whether its entitlements are approved with it
        is this manager's ``auto_approve_entitlements``; an ``auto_approve`` that contradicts
        it is refused rather than ignored."""
        obj = self.manager(user, ids)
        configured = bool(self.current_config(obj).get("auto_approve_entitlements"))
        if auto_approve not in (None,) and bool(auto_approve) != configured:
            raise UserError(
                "auto_approve: this cycle manager is configured with "
                f"auto_approve_entitlements={configured}; change the manager to change it."
            )
        return _action(cycles.cycle_approve(cycle=self.cycle_of(obj, cycle), actor=user))

    def mark_distributed(self, user: Any, ids: Any = None, cycle: Any = None, **_: Any) -> Any:
        obj = self.manager(user, ids)
        return _action(cycles.cycle_mark_distributed(cycle=self.cycle_of(obj, cycle), actor=user))

    def mark_ended(self, user: Any, ids: Any = None, cycle: Any = None, **_: Any) -> Any:
        obj = self.manager(user, ids)
        return _action(cycles.cycle_mark_ended(cycle=self.cycle_of(obj, cycle), actor=user))

    def mark_cancelled(self, user: Any, ids: Any = None, cycle: Any = None, **_: Any) -> Any:
        obj = self.manager(user, ids)
        return _action(cycles.cycle_mark_cancelled(cycle=self.cycle_of(obj, cycle), actor=user))


class EntitlementManagerMethods(ConcreteAdapter):
    methods = frozenset(
        {
            "prepare_entitlements",
            "set_pending_validation_entitlements",
            "validate_entitlements",
            "cancel_entitlements",
            "approve_entitlements",
            "open_entitlements_form",
        }
    )

    def prepare_entitlements(
        self,
        user: Any,
        ids: Any = None,
        cycle: Any = None,
        cycle_memberships: Any = None,
        **_: Any,
    ) -> Any:
        obj = self.manager(user, ids)
        _refuse_subset(cycle_memberships, "cycle_memberships", "every enrolled cycle member")
        return _action(
            entitlements.entitlements_prepare(cycle=self.cycle_of(obj, cycle), actor=user)
        )

    def set_pending_validation_entitlements(
        self, user: Any, ids: Any = None, cycle: Any = None, **_: Any
    ) -> int:
        """draft -> pending_validation; the number of entitlements (queued or changed)."""
        obj = self.manager(user, ids)
        return int(
            entitlements.entitlements_set_pending(cycle=self.cycle_of(obj, cycle), actor=user)
        )

    def validate_entitlements(self, user: Any, ids: Any = None, cycle: Any = None, **_: Any) -> Any:
        obj = self.manager(user, ids)
        return _action(
            entitlements.entitlements_approve(cycle=self.cycle_of(obj, cycle), actor=user)
        )

    def cancel_entitlements(self, user: Any, ids: Any = None, cycle: Any = None, **_: Any) -> Any:
        obj = self.manager(user, ids)
        return _action(
            entitlements.entitlements_cancel(cycle=self.cycle_of(obj, cycle), actor=user)
        )

    def approve_entitlements(
        self, user: Any, ids: Any = None, entitlements_: Any = None, **kwargs: Any
    ) -> list[Any]:
        """Upstream's ``(error count, message)`` for approving the given entitlements of
        this manager's program."""
        obj = self.manager(user, ids)
        chosen = _ids(kwargs.get("entitlements", entitlements_))
        foreign = Entitlement.objects.filter(pk__in=chosen).exclude(program_id=obj.program_id)
        if foreign.exists():
            raise UserError("The entitlements must belong to the program of this manager.")
        result = entitlements.entitlement_approve_selected(entitlement_ids=chosen, actor=user)
        errors = int(result.data.get("errors", 1 if result.type == "danger" else 0))
        return [errors, result.message if errors else ""]

    def open_entitlements_form(
        self, user: Any, ids: Any = None, cycle: Any = None, **_: Any
    ) -> dict[str, Any]:
        obj = self.manager(user, ids)
        the_cycle = self.cycle_of(obj, cycle)
        return {
            "name": "Cycle Entitlements",
            "type": "ir.actions.act_window",
            "res_model": "g2p.entitlement",
            "view_mode": "tree,form",
            "domain": [["cycle_id", "=", the_cycle.pk]],
            "context": {"default_cycle_id": the_cycle.pk},
        }


class PaymentManagerMethods(ConcreteAdapter):
    methods = frozenset({"prepare_payments", "send_payments"})

    def prepare_payments(
        self, user: Any, ids: Any = None, cycle: Any = None, entitlements: Any = None, **_: Any
    ) -> Any:
        obj = self.manager(user, ids)
        _refuse_subset(entitlements, "entitlements", "the cycle's approved entitlements")
        return _action(payments.payments_prepare(cycle=self.cycle_of(obj, cycle), actor=user))

    def send_payments(self, user: Any, ids: Any = None, batches: Any = None, **_: Any) -> Any:
        """Send the given payment batches (of one cycle of this manager's program)."""
        obj = self.manager(user, ids)
        batch_ids = _ids(batches)
        foreign = (
            Cycle.objects.filter(payment_batches__pk__in=batch_ids)
            .exclude(program_id=obj.program_id)
            .exists()
        )
        if foreign:
            raise UserError("The payment batches must belong to the program of this manager.")
        return _action(payments.payment_batches_send(batch_ids=batch_ids, actor=user))


class NotificationManagerMethods(ConcreteAdapter):
    methods = frozenset()


_METHODS_BY_KIND: dict[str, type[ConcreteAdapter]] = {
    ManagerKind.PROGRAM: ProgramManagerMethods,
    ManagerKind.ELIGIBILITY: EligibilityManagerMethods,
    ManagerKind.DEDUPLICATION: DeduplicationManagerMethods,
    ManagerKind.CYCLE: CycleManagerMethods,
    ManagerKind.ENTITLEMENT: EntitlementManagerMethods,
    ManagerKind.PAYMENT: PaymentManagerMethods,
    ManagerKind.NOTIFICATION: NotificationManagerMethods,
}


# --- records the configuration points to ---------------------------------------------------------


class BatchTagAdapter(ConfigAdapter):
    """``g2p.payment.batch.tag``: read over RPC, configured in the back office."""

    name = "g2p.payment.batch.tag"
    model = PaymentBatchTag
    app_perm = "g2p_programs.{verb}_paymentbatchtag"
    schema = domains.DomainSchema(
        PaymentBatchTag,
        {
            "name": domains.FieldSpec("name", "char"),
            "order": domains.FieldSpec("order", "integer"),
        },
        name="g2p.payment.batch.tag",
    )

    def declare_fields(self) -> list[RpcField]:
        return [
            RpcField("name", "char", "Name", attr="name", required=True),
            RpcField("order", "integer", "Order", attr="order"),
            RpcField("domain", "text", "Domain", attr="domain"),
            RpcField("max_batch_size", "integer", "Max Batch Size", attr="max_batch_size"),
        ]


def _file_config_adapter() -> type[ModelAdapter] | None:
    if not apps.is_installed("g2p_payment_files"):
        return None
    from g2p_payment_files.models import PaymentFileConfig

    class PaymentFileConfigAdapter(ConfigAdapter):
        """``g2p.payment.file.config``: read over RPC, configured in the back office."""

        name = "g2p.payment.file.config"
        model = PaymentFileConfig
        app_perm = "g2p_payment_files.{verb}_paymentfileconfig"
        schema = domains.DomainSchema(
            PaymentFileConfig,
            {"name": domains.FieldSpec("name", "char")},
            name="g2p.payment.file.config",
        )

        def declare_fields(self) -> list[RpcField]:
            return [
                RpcField("name", "char", "Name", attr="name", required=True),
                RpcField("type", "char", "Type", attr="file_format"),
            ]

    return PaymentFileConfigAdapter


def manager_adapters() -> tuple[type[ModelAdapter], ...]:
    """Wrapper models of the seven kinds, one concrete model per registered manager class,
    and the configuration records they point to. Called once the manager registry is frozen."""
    result: list[type[ModelAdapter]] = []
    for kind, info in KINDS.items():
        result.append(
            type(
                f"{kind.title()}WrapperAdapter",
                (WrapperAdapter,),
                {"name": info.wrapper, "kind": str(kind)},
            )
        )
        base = _METHODS_BY_KIND[kind]
        for key in registry.keys(kind):
            cls = registry.get(kind, key)
            result.append(
                type(
                    f"{cls.__name__}Adapter",
                    (base,),
                    {
                        "name": concrete_model_name(cls),
                        "kind": str(kind),
                        "manager_class": cls,
                        "extra_methods": base.methods,
                    },
                )
            )
    result.append(BatchTagAdapter)
    file_configs = _file_config_adapter()
    if file_configs is not None:
        result.append(file_configs)
    return tuple(result)
