"""The models exposed over RPC under their upstream Odoo names, and their standard methods.

Each :class:`ModelAdapter` maps an Odoo model name (``res.partner``) onto a Django model, a
whitelist of fields (:mod:`addons.g2p_rpc.fields`) and a domain schema (:mod:`pbms.domains`).
Reads are lazy querysets narrowed by the compiled domain (one query, plus one per x2many
field read); writes go through the registry's services, which check permissions and validate.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import QuerySet
from django.db.models.functions import Trunc

from addons.g2p_rpc.errors import AccessError, MissingError, UserError
from addons.g2p_rpc.fields import RpcField, from_wire, to_wire
from g2p_registry_base import services
from g2p_registry_base.models import (
    Bank,
    BankAccount,
    Company,
    GenderType,
    GroupKind,
    GroupMembership,
    IdType,
    MembershipKind,
    PhoneNumber,
    Registrant,
    RegistrantId,
    RegistrantTag,
)
from pbms import domains

PUBLIC_METHODS = frozenset(
    {
        "fields_get",
        "search",
        "search_count",
        "search_read",
        "read",
        "create",
        "write",
        "unlink",
        "name_search",
        "name_get",
        "default_get",
        "check_access_rights",
        "read_group",
        "name_create",
        "copy",
    }
)
_AGGREGATES = {"sum": models.Sum, "avg": models.Avg, "min": models.Min, "max": models.Max,
               "count": models.Count, "count_distinct": None}  # fmt: skip
_GRANULARITY = {"day", "week", "month", "quarter", "year"}
_NUMERIC = {"integer", "float", "monetary"}


def _ids(value: Any) -> list[int]:
    if value is None or value is False:
        return []
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    if isinstance(value, list | tuple) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        return list(value)
    raise ValueError(f"Invalid ids {value!r}: a list of integers is expected.")


def _mentions(domain: list[Any], name: str) -> bool:
    return any(
        isinstance(t, list | tuple) and len(t) == 3 and str(t[0]).split(".")[0] == name
        for t in domain
    )


class ModelAdapter:
    """One model as RPC clients see it. Subclasses declare the fields and the write path."""

    name: ClassVar[str]
    model: ClassVar[type[models.Model]]
    schema: ClassVar[domains.DomainSchema]
    app_perm: ClassVar[str]  # "<app_label>.<verb>_<codename>" with {verb}
    rec_name: ClassVar[str | None] = "name"
    has_active: ClassVar[bool] = False
    # True: delete_one deletes a record with the model's Django delete permission
    deletable: ClassVar[bool] = False
    fields: dict[str, RpcField]
    extra_methods: ClassVar[frozenset[str]] = frozenset()
    # Fields ``copy`` carries over (None: every writable scalar and many2one field).
    copy_fields: ClassVar[tuple[str, ...] | None] = None

    def __init__(self, registry: dict[str, ModelAdapter]) -> None:
        self.registry = registry
        self.fields = {"id": RpcField("id", "integer", "ID", attr="pk", readonly=True)}
        for fld in self.declare_fields():
            self.fields[fld.name] = fld
        self.fields["display_name"] = RpcField(
            "display_name", "char", "Display Name", compute=self.display_name
        )

    # -- declarations ------------------------------------------------------------------------

    def declare_fields(self) -> list[RpcField]:
        raise NotImplementedError

    def display_name(self, obj: Any) -> str:
        return str(obj)

    def base_queryset(self, user: Any) -> QuerySet[Any]:
        return self.model._default_manager.all()

    # -- permissions -------------------------------------------------------------------------

    def require(self, user: Any, verb: str) -> None:
        if not user.has_perm(self.app_perm.format(verb=verb)):
            raise AccessError(f"You are not allowed to {_VERB_TEXT[verb]} '{self.name}' records.")

    def check_access_rights(
        self, user: Any, operation: str, raise_exception: bool = True, **_: Any
    ) -> bool:
        verb = {"read": "view", "write": "change", "create": "add", "unlink": "delete"}.get(
            operation
        )
        if verb is None:
            raise ValueError(f"Invalid access mode {operation!r}")
        try:
            self.require(user, verb)
            self.check_writable(verb)
        except AccessError:
            if raise_exception:
                raise
            return False
        return True

    def check_writable(self, verb: str) -> None:
        """Refuse writes on models that are configured in the back office only."""

    # -- reads -------------------------------------------------------------------------------

    def field(self, name: str) -> RpcField:
        fld = self.fields.get(name)
        if fld is None:
            raise ValueError(f"Invalid field {name!r} on model {self.name!r}")
        return fld

    def filtered(self, user: Any, domain: Any, context: dict[str, Any]) -> QuerySet[Any]:
        self.require(user, "view")
        domain = list(domains.parse_domain(domain or []))
        qs = self.base_queryset(user)
        if self.has_active and context.get("active_test", True) and not _mentions(domain, "active"):
            qs = qs.filter(active=True)
        return qs.filter(domains.compile_domain(domain, schema=self.schema))

    def order_by(self, order: Any) -> list[Any]:
        if not order:
            return []
        if not isinstance(order, str):
            raise ValueError(f"Invalid order {order!r}")
        result: list[Any] = []
        for part in order.split(","):
            words = part.split()
            if not words or len(words) > 3:
                raise ValueError(f"Invalid order {order!r}")
            fld = self.field(words[0])
            if not fld.stored or fld.type in ("one2many", "many2many"):
                raise ValueError(f"Invalid field {words[0]!r} for ordering on {self.name!r}")
            direction = words[1].lower() if len(words) > 1 else "asc"
            if direction not in ("asc", "desc"):
                raise ValueError(f"Invalid order {order!r}")
            nulls = {"nulls first": {"nulls_first": True}, "nulls last": {"nulls_last": True}}
            extra = nulls.get(" ".join(w.lower() for w in words[2:]), {}) if len(words) > 2 else {}
            expr = models.F(fld.attr)
            result.append(expr.desc(**extra) if direction == "desc" else expr.asc(**extra))
        return [*result, "-pk"] if all(str(r) != "pk" for r in result) else result

    def search(
        self,
        user: Any,
        domain: Any = None,
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
        context: dict[str, Any] | None = None,
        **_: Any,
    ) -> list[int]:
        qs = self.filtered(user, domain, context or {})
        ordering = self.order_by(order)
        if ordering:
            qs = qs.order_by(*ordering)
        offset = int(offset or 0)
        if limit:
            qs = qs[offset : offset + int(limit)]
        elif offset:
            qs = qs[offset:]
        return list(qs.values_list("pk", flat=True))

    def search_count(
        self,
        user: Any,
        domain: Any = None,
        limit: int | None = None,
        context: dict[str, Any] | None = None,
        **_: Any,
    ) -> int:
        qs = self.filtered(user, domain, context or {})
        if limit:
            return len(qs.values_list("pk", flat=True)[: int(limit)])
        return qs.count()

    def search_read(
        self,
        user: Any,
        domain: Any = None,
        fields: list[str] | None = None,
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
        context: dict[str, Any] | None = None,
        load: str = "_classic_read",
        **_: Any,
    ) -> list[dict[str, Any]]:
        ids = self.search(user, domain, offset, limit, order, context)
        return self.read(user, ids, fields, load=load, context=context)

    def read(
        self,
        user: Any,
        ids: Any,
        fields: list[str] | None = None,
        load: str = "_classic_read",
        context: dict[str, Any] | None = None,
        **_: Any,
    ) -> list[dict[str, Any]]:
        self.require(user, "view")
        wanted = [self.field(n) for n in (fields or []) if n != "id"] or [
            f for n, f in self.fields.items() if n != "id"
        ]
        ids = _ids(ids)
        if not ids:
            return []
        qs = self.base_queryset(user).filter(pk__in=ids)
        related = [f.attr for f in wanted if f.type == "many2one" and f.attr]
        prefetch = {f.attr for f in wanted if f.type in ("one2many", "many2many") and f.attr}
        for f in wanted:
            prefetch.update(f.prefetch)
        qs = qs.select_related(*related).prefetch_related(*sorted(p for p in prefetch if p))
        by_id = {obj.pk: obj for obj in qs}
        classic = load == "_classic_read"
        rows = []
        for pk in ids:
            obj = by_id.get(pk)
            if obj is None:
                continue
            row: dict[str, Any] = {"id": pk}
            for f in wanted:
                row[f.name] = self.read_value(obj, f, classic)
            rows.append(row)
        return rows

    def read_value(self, obj: Any, f: RpcField, classic: bool) -> Any:
        if f.compute is not None:
            value = f.compute(obj)
            if f.type == "many2one" and not classic and isinstance(value, list):
                return value[0]
            return value
        assert f.attr is not None
        if f.type == "many2one":
            target = getattr(obj, f.attr)
            if target is None:
                return False
            if not classic:
                return target.pk
            assert f.relation is not None
            return [target.pk, self.registry[f.relation].display_name(target)]
        if f.type in ("one2many", "many2many"):
            return [r.pk for r in getattr(obj, f.attr).all()]
        return to_wire(f.type, getattr(obj, f.attr))

    def name_get(self, user: Any, ids: Any, **_: Any) -> list[list[Any]]:
        rows = self.read(user, ids, ["display_name"])
        return [[r["id"], r["display_name"]] for r in rows]

    def name_search(
        self,
        user: Any,
        name: str = "",
        args: Any = None,
        operator: str = "ilike",
        limit: int = 100,
        context: dict[str, Any] | None = None,
        **_: Any,
    ) -> list[list[Any]]:
        domain = list(args or [])
        if name and self.rec_name:
            domain = (
                ["&", (self.rec_name, operator, name), *domain]
                if domain
                else [(self.rec_name, operator, name)]
            )
        ids = self.search(user, domain, 0, limit, None, context)
        return self.name_get(user, ids)

    def fields_get(
        self,
        user: Any,
        allfields: list[str] | None = None,
        attributes: list[str] | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        result = {}
        for name, fld in self.fields.items():
            if allfields and name not in allfields:
                continue
            info = fld.describe()
            if attributes:
                info = {k: v for k, v in info.items() if k in attributes}
            result[name] = info
        return result

    def default_get(self, user: Any, fields_list: list[str] | None = None, **_: Any) -> dict:
        result: dict[str, Any] = {}
        for name in fields_list or list(self.fields):
            fld = self.fields.get(name)
            if fld is None or not fld.stored or fld.name == "id":
                continue
            if fld.type in ("one2many", "many2many"):
                continue
            assert fld.attr is not None
            try:
                model_field = self.model._meta.get_field(fld.attr)
            except Exception:  # noqa: S112 - fields without a model counterpart have no default
                continue
            if not model_field.has_default():
                continue
            value = model_field.get_default()
            result[name] = (value or False) if fld.type == "many2one" else to_wire(fld.type, value)
        return result

    def read_group(
        self,
        user: Any,
        domain: Any = None,
        fields: list[str] | None = None,
        groupby: Any = None,
        offset: int = 0,
        limit: int | None = None,
        orderby: Any = False,
        lazy: bool = True,
        context: dict[str, Any] | None = None,
        **_: Any,
    ) -> list[dict[str, Any]]:
        """Odoo's ``read_group``: one aggregate query over the filtered records.

        ``groupby``: stored scalar or many2one fields, dates with ``:day|week|month|quarter|
        year`` (default month); ``lazy`` groups by the first only (``<field>_count``, the rest
        in ``__context``), else by all (``__count``). ``fields``: ``name``, ``name:agg`` or
        ``alias:agg(name)`` with agg sum / avg / min / max / count / count_distinct (numeric
        fields default to sum). Each group carries its ``__domain``."""
        context = context or {}
        base_domain = list(domains.parse_domain(domain or []))
        qs = self.filtered(user, base_domain, context)
        specs = [groupby] if isinstance(groupby, str) else list(groupby or [])
        if not specs:
            raise ValueError("read_group needs at least one groupby field")
        if lazy:
            specs, rest = specs[:1], specs[1:]
        else:
            rest = []
        group_keys: list[tuple[str, str, RpcField, str | None]] = []  # spec, alias, field, gran
        annotations: dict[str, Any] = {}
        for spec in specs:
            if not isinstance(spec, str):
                raise ValueError(f"Invalid groupby {spec!r}")
            fname, _sep, gran = spec.partition(":")
            fld = self.field(fname)
            if not fld.stored or fld.type in ("one2many", "many2many") or fld.attr is None:
                raise ValueError(f"Invalid field {fname!r} for grouping on {self.name!r}")
            alias = f"g_{len(group_keys)}"
            if fld.type in ("date", "datetime"):
                gran = gran or "month"
                if gran not in _GRANULARITY:
                    raise ValueError(f"Invalid granularity {gran!r} in {spec!r}")
                annotations[alias] = Trunc(fld.attr, gran, output_field=models.DateField())
            else:
                if gran:
                    raise ValueError(f"Invalid groupby {spec!r}: {fname!r} is not a date")
                attr = f"{fld.attr}_id" if fld.type == "many2one" else fld.attr
                annotations[alias] = models.F(attr)
                gran = None
            group_keys.append((spec, alias, fld, gran))
        aggregates: dict[str, Any] = {}
        for item in fields or []:
            if not isinstance(item, str):
                raise ValueError(f"Invalid field spec {item!r}")
            alias, fname, func = _aggregate_spec(item)
            if fname in {g[2].name for g in group_keys} or fname in ("__count", "id"):
                continue
            fld = self.field(fname)
            if func is None:
                if fld.type not in _NUMERIC or not fld.stored:
                    continue  # Odoo ignores non-aggregatable fields
                func = "sum"
            if not fld.stored or fld.attr is None or func not in _AGGREGATES:
                raise ValueError(f"Invalid aggregate {item!r} on {self.name!r}")
            attr = f"{fld.attr}_id" if fld.type == "many2one" else fld.attr
            if func == "count_distinct":
                aggregates[alias] = models.Count(attr, distinct=True)
            else:
                aggregates[alias] = _AGGREGATES[func](attr)
        rows_qs = (
            qs.order_by()
            .annotate(**annotations)
            .values(*annotations)
            .annotate(__count=models.Count("pk"), **aggregates)
        )
        ordering = _group_ordering(orderby, group_keys, aggregates)
        rows_qs = rows_qs.order_by(*ordering)
        offset = int(offset or 0)
        rows = list(rows_qs[offset : offset + int(limit)] if limit else rows_qs[offset:])
        names = self._group_names(group_keys, rows)
        count_key = f"{group_keys[0][2].name}_count" if lazy else "__count"
        result = []
        for row in rows:
            out: dict[str, Any] = {}
            group_domain: list[list[Any]] = []
            for spec, alias, fld, gran in group_keys:
                value = row[alias]
                if fld.type == "many2one":
                    out[spec] = [value, names[(alias, value)]] if value is not None else False
                    group_domain.append([(fld.name, "=", value or False)])
                elif gran is not None:
                    out[spec] = _period_label(value, gran) if value is not None else False
                    group_domain.append(_period_domain(fld.name, value, gran))
                else:
                    out[spec] = to_wire(fld.type, value)
                    group_domain.append([(fld.name, "=", to_wire(fld.type, value))])
            out[count_key] = row["__count"]
            for alias in aggregates:
                value = row[alias]
                out[alias] = float(value) if isinstance(value, decimal.Decimal) else value
            out["__domain"] = _and_domains([*group_domain, base_domain])
            if rest:
                out["__context"] = {"group_by": rest}
            result.append(out)
        return result

    def _group_names(
        self, group_keys: list[tuple[str, str, RpcField, str | None]], rows: list[dict[str, Any]]
    ) -> dict[tuple[str, Any], str]:
        """Display names of the many2one group values (one query per many2one groupby)."""
        names: dict[tuple[str, Any], str] = {}
        for _spec, alias, fld, _gran in group_keys:
            if fld.type != "many2one":
                continue
            assert fld.relation is not None
            target = self.registry[fld.relation]
            ids = {r[alias] for r in rows if r[alias] is not None}
            for obj in target.model._default_manager.filter(pk__in=ids):
                names[(alias, obj.pk)] = target.display_name(obj)
        return names

    def name_create(self, user: Any, name: Any, **_: Any) -> list[Any]:
        """Create a record from its name alone; returns ``[id, display_name]``."""
        if not self.rec_name:
            raise UserError(f"Cannot create a '{self.name}' record from a name alone.")
        if not isinstance(name, str) or not name.strip():
            raise ValueError("name_create needs a non-empty name")
        self.check_writable("add")
        pk = self.create_one(user, {self.rec_name: name})
        return self.name_get(user, [pk])[0]

    def copy(self, user: Any, ids: Any, default: dict[str, Any] | None = None, **_: Any) -> int:
        """A new record with the stored values of ``ids`` (one record; relations to
        many records are not copied) overridden by ``default``."""
        wanted = _ids(ids)
        if len(wanted) != 1:
            raise ValueError("copy works on exactly one record")
        self.check_writable("add")
        self.require(user, "add")
        (obj,) = self.records(user, wanted)
        vals: dict[str, Any] = {}
        for fld in self.fields.values():
            if fld.is_readonly or fld.name == "id" or fld.type in ("one2many", "many2many"):
                continue
            if self.copy_fields is not None and fld.name not in self.copy_fields:
                continue
            assert fld.attr is not None
            if fld.type == "many2one":
                vals[fld.name] = getattr(obj, f"{fld.attr}_id") or False
            else:
                vals[fld.name] = to_wire(fld.type, getattr(obj, fld.attr))
        if self.rec_name and self.rec_name in vals and isinstance(vals[self.rec_name], str):
            vals[self.rec_name] = f"{vals[self.rec_name]} (copy)"
        if default is not None and not isinstance(default, dict):
            raise ValueError("default must be a dictionary")
        vals.update(default or {})
        return self.create_one(user, vals)

    # -- writes ------------------------------------------------------------------------------

    def scalar_values(self, vals: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Split ``vals`` into ORM attribute values and x2many commands (checked names)."""
        if not isinstance(vals, dict):
            raise ValueError(f"Invalid values {vals!r}: a dictionary is expected.")
        plain: dict[str, Any] = {}
        commands: dict[str, Any] = {}
        for name, value in vals.items():
            fld = self.field(name)
            if fld.is_readonly:
                raise UserError(f"The field {name!r} of {self.name!r} is read-only.")
            assert fld.attr is not None
            if fld.type in ("one2many", "many2many"):
                commands[name] = value
            elif fld.type == "many2one":
                if (
                    value is not False
                    and value is not None
                    and (not isinstance(value, int) or isinstance(value, bool))
                ):
                    raise ValueError(f"Invalid value {value!r} for many2one field {name!r}")
                plain[f"{fld.attr}_id"] = value or None
            else:
                plain[fld.attr] = from_wire(fld, value)
        return plain, commands

    def create(self, user: Any, vals_list: Any, **_: Any) -> int | list[int]:
        self.check_writable("add")
        single = isinstance(vals_list, dict)
        ids = [self.create_one(user, vals) for vals in ([vals_list] if single else vals_list)]
        return ids[0] if single else ids

    def write(self, user: Any, ids: Any, vals: dict[str, Any], **_: Any) -> bool:
        self.check_writable("change")
        records = self.records(user, ids)
        for obj in records:
            self.write_one(user, obj, vals)
        return True

    def unlink(self, user: Any, ids: Any, **_: Any) -> bool:
        self.check_writable("delete")
        for obj in self.records(user, ids):
            self.delete_one(user, obj)
        return True

    def records(self, user: Any, ids: Any) -> list[Any]:
        wanted = _ids(ids)
        found = {o.pk: o for o in self.base_queryset(user).filter(pk__in=wanted)}
        missing = [i for i in wanted if i not in found]
        if missing:
            raise MissingError(
                "Record does not exist or has been deleted.\n"
                f"(Record: {self.name}({', '.join(map(str, missing))}), User: {user.pk})"
            )
        return [found[i] for i in wanted]

    def create_one(self, user: Any, vals: dict[str, Any]) -> int:
        plain, commands = self.scalar_values(vals)
        obj = self.model(**plain)
        self.save(user, obj, commands=None)
        self.apply_commands(user, obj, commands)
        return obj.pk

    def write_one(self, user: Any, obj: Any, vals: dict[str, Any]) -> None:
        plain, commands = self.scalar_values(vals)
        if plain or not commands:
            for attr, value in plain.items():
                setattr(obj, attr, value)
            self.save(user, obj, commands=None)
        self.apply_commands(user, obj, commands)

    def save(self, user: Any, obj: Any, commands: Any) -> None:
        raise AccessError(f"'{self.name}' records cannot be changed through this API.")

    def delete_one(self, user: Any, obj: Any) -> None:
        """Delete ``obj`` when the adapter is ``deletable`` and the user holds the model's
        Django delete permission; adapters with a delete service override this."""
        if not self.deletable:
            raise AccessError(f"'{self.name}' records cannot be deleted through this API.")
        opts = self.model._meta
        services.require_perm(user, f"{opts.app_label}.delete_{opts.model_name}")
        obj.delete()

    def apply_commands(self, user: Any, obj: Any, commands: dict[str, Any]) -> None:
        for name, value in commands.items():
            fld = self.fields[name]
            assert fld.relation is not None
            child = self.registry[fld.relation]
            if fld.type == "one2many":
                assert fld.relation_field is not None
                child.apply_one2many(user, obj, fld.relation_field, value)
            else:
                self.apply_many2many(user, obj, fld, value)

    def apply_many2many(self, user: Any, obj: Any, fld: RpcField, value: Any) -> None:
        raise UserError(f"The field {fld.name!r} cannot be changed through this API.")

    def apply_one2many(self, user: Any, parent: Any, inverse: str, value: Any) -> None:
        """Odoo x2many commands on the records of this model pointing to ``parent``.

        ``(0, 0, vals)`` create, ``(1, id, vals)`` update, ``(2, id)`` delete, ``(3, id)``
        unlink (the link is required, so it deletes, as Odoo does with a cascading inverse),
        ``(4, id)`` link, ``(5,)`` clear (delete all), ``(6, 0, ids)`` replace.
        """
        inverse_fld = self.field(inverse)
        assert inverse_fld.attr is not None
        fk = f"{inverse_fld.attr}_id"
        if not isinstance(value, list | tuple):
            raise ValueError(f"Invalid x2many commands {value!r}")

        def own(record_id: Any) -> Any:
            obj = self.records_of(parent, fk).filter(pk=record_id).first()
            if obj is None:
                raise MissingError(f"Record {self.name}({record_id}) is not linked to this record.")
            return obj

        for command in value:
            if not isinstance(command, list | tuple) or not command:
                raise ValueError(f"Invalid x2many command {command!r}")
            code = command[0]
            if code == 0:
                self.create_one(parent_user(user), {**(command[2] or {}), inverse: parent.pk})
            elif code == 1:
                self.write_one(user, own(command[1]), command[2] or {})
            elif code in (2, 3):
                self.delete_one(user, own(command[1]))
            elif code == 4:
                self.write_one(user, self.records(user, [command[1]])[0], {inverse: parent.pk})
            elif code == 5:
                for obj in self.records_of(parent, fk):
                    self.delete_one(user, obj)
            elif code == 6:
                keep = set(_ids(command[2]))
                for obj in self.records_of(parent, fk).exclude(pk__in=keep):
                    self.delete_one(user, obj)
                linked = set(self.records_of(parent, fk).values_list("pk", flat=True))
                for obj in self.records(user, sorted(keep - linked)):
                    self.write_one(user, obj, {inverse: parent.pk})
            else:
                raise ValueError(f"Invalid x2many command {command!r}")

    def records_of(self, parent: Any, fk: str) -> QuerySet[Any]:
        return self.model._default_manager.filter(**{fk: parent.pk})


def parent_user(user: Any) -> Any:
    return user


_VERB_TEXT = {"view": "read", "add": "create", "change": "modify", "delete": "delete"}


def _gender_selection() -> list[list[str]]:
    return [
        [value, code]
        for value, code in GenderType.objects.filter(active=True)
        .order_by("pk")
        .values_list("value", "code")
    ]


PARTNER_SCHEMA = domains.DomainSchema(
    Registrant,
    {
        **domains.REGISTRANT_SCHEMA.fields,
        "category_id": domains.REGISTRANT_SCHEMA.fields["tags_ids"],
    },
    name="res.partner",
)


class PartnerAdapter(ModelAdapter):
    """Registrants (individuals and groups) as upstream ``res.partner``.

    ``tags_ids`` (upstream) and ``category_id`` (Odoo's contacts) are the registrant's tags,
    ``bank_ids`` its bank accounts; both take the x2many commands 0-6.
    """

    name = "res.partner"
    model = Registrant
    schema = PARTNER_SCHEMA
    app_perm = "g2p_registry_base.{verb}_registrant"
    has_active = True

    def declare_fields(self) -> list[RpcField]:
        return [
            RpcField("name", "char", "Name", attr="name"),
            RpcField("given_name", "char", "Given Name", attr="given_name"),
            RpcField("family_name", "char", "Family Name", attr="family_name"),
            RpcField("addl_name", "char", "Additional Name", attr="addl_name"),
            RpcField("is_registrant", "boolean", "Registrant", attr="is_registrant"),
            RpcField("is_group", "boolean", "Group", attr="is_group"),
            RpcField(
                "gender", "selection", "Gender", attr="gender_id", selection=_gender_selection
            ),
            RpcField("birthdate", "date", "Date of Birth", attr="birthdate"),
            RpcField(
                "birthdate_not_exact",
                "boolean",
                "Approximate Birthdate",
                attr="birthdate_not_exact",
            ),
            RpcField("birth_place", "char", "Birth Place", attr="birth_place"),
            RpcField("age", "integer", "Age", compute=lambda o: o.age or 0),
            RpcField("registration_date", "date", "Registration Date", attr="registration_date"),
            RpcField("address", "text", "Address", attr="address"),
            RpcField("email", "char", "Email", attr="email"),
            RpcField(
                "phone",
                "char",
                "Phone",
                compute=_partner_phone,
                prefetch=("phone_numbers",),
            ),
            RpcField("civil_status", "char", "CivilState", attr="civil_status"),
            RpcField("occupation", "char", "Occupation", attr="occupation"),
            RpcField("income", "float", "Income", attr="income"),
            RpcField("kind", "many2one", "Kind", attr="kind", relation="g2p.group.kind"),
            RpcField("company_id", "many2one", "Company", attr="company", relation="res.company"),
            RpcField("active", "boolean", "Active", attr="active"),
            RpcField("disabled", "datetime", "Date Disabled", attr="disabled"),
            RpcField("disabled_reason", "text", "Reason for disabling", attr="disabled_reason"),
            RpcField(
                "reg_ids",
                "one2many",
                "Registrant IDs",
                attr="reg_ids",
                relation="g2p.reg.id",
                relation_field="partner_id",
            ),
            RpcField(
                "phone_number_ids",
                "one2many",
                "Phone Numbers",
                attr="phone_numbers",
                relation="g2p.phone.number",
                relation_field="partner_id",
            ),
            RpcField(
                "tags_ids",
                "many2many",
                "Tags",
                attr="tags",
                relation="g2p.registrant.tags",
            ),
            # Odoo's own name for a contact's tags; the same registrant tags.
            RpcField(
                "category_id",
                "many2many",
                "Tags",
                attr="tags",
                relation="g2p.registrant.tags",
            ),
            RpcField(
                "bank_ids",
                "one2many",
                "Banks",
                attr="bank_accounts",
                relation="res.partner.bank",
                relation_field="partner_id",
            ),
            RpcField(
                "group_membership_ids",
                "one2many",
                "Group Members",
                attr="group_memberships",
                relation="g2p.group.membership",
                relation_field="group",
            ),
            RpcField(
                "individual_membership_ids",
                "one2many",
                "Membership to Groups",
                attr="individual_memberships",
                relation="g2p.group.membership",
                relation_field="individual",
            ),
            RpcField("create_date", "datetime", "Created on", attr="create_date", readonly=True),
            RpcField("write_date", "datetime", "Last Updated on", attr="write_date", readonly=True),
        ]

    def display_name(self, obj: Any) -> str:
        return obj.name

    def save(self, user: Any, obj: Any, commands: Any) -> None:
        services.registrant_save(registrant=obj, actor=user)

    def delete_one(self, user: Any, obj: Any) -> None:
        services.registrant_delete(registrant=obj, actor=user)

    def apply_many2many(self, user: Any, obj: Any, fld: RpcField, value: Any) -> None:
        """Tag commands: ``(0, 0, vals)`` create a tag and add it, ``(1, id, vals)`` change a
        tag, ``(2, id)`` delete a tag, ``(3, id)`` remove, ``(4, id)`` add, ``(5,)`` clear,
        ``(6, 0, ids)`` set. Tags themselves change with the tag permissions; the links with
        the registrant's change permission, in one replacement."""
        assert fld.relation is not None and fld.attr is not None
        tags = self.registry[fld.relation]
        current = set(getattr(obj, fld.attr).values_list("pk", flat=True))
        for code, record_id, payload in _commands(value, fld.name):
            if code == 0:
                current.add(tags.create_one(user, payload or {}))
            elif code == 1:
                tags.write_one(user, tags.records(user, [record_id])[0], payload or {})
            elif code == 2:
                tags.delete_one(user, tags.records(user, [record_id])[0])
                current.discard(record_id)
            elif code == 3:
                current.discard(record_id)
            elif code == 4:
                tags.records(user, [record_id])
                current.add(record_id)
            elif code == 5:
                current.clear()
            else:
                wanted = _ids(payload)
                tags.records(user, wanted)
                current = set(wanted)
        services.registrant_tags_set(
            registrant=obj, tags=RegistrantTag.objects.filter(pk__in=current), actor=user
        )


def _commands(value: Any, field: str) -> list[tuple[int, Any, Any]]:
    """x2many commands as ``(code, id, payload)``, short forms (``[5]``, ``(4, id)``) included."""
    if not isinstance(value, list | tuple):
        raise ValueError(f"Invalid x2many commands {value!r} for field {field!r}")
    result = []
    for command in value:
        if (
            not isinstance(command, list | tuple)
            or not command
            or command[0] not in (0, 1, 2, 3, 4, 5, 6)
            or (
                command[0] in (1, 2, 3, 4) and (len(command) < 2 or not isinstance(command[1], int))
            )
            or (command[0] in (0, 1, 6) and len(command) < 3)
        ):
            raise ValueError(f"Invalid x2many command {command!r} for field {field!r}")
        padded = [*command, None, None][:3]
        result.append((padded[0], padded[1], padded[2]))
    return result


class TagAdapter(ModelAdapter):
    """Registrant tags (upstream ``g2p.registrant.tags``); administrators change them."""

    name = "g2p.registrant.tags"
    model = RegistrantTag
    deletable = True
    schema = domains.TAG_SCHEMA
    app_perm = "g2p_registry_base.{verb}_registranttag"
    has_active = True

    def declare_fields(self) -> list[RpcField]:
        return [
            RpcField("name", "char", "Tags", attr="name", required=True),
            RpcField("color", "integer", "Color Index", attr="color"),
            RpcField("active", "boolean", "Active", attr="active"),
        ]

    def display_name(self, obj: Any) -> str:
        return obj.name

    def save(self, user: Any, obj: Any, commands: Any) -> None:
        services.tag_save(tag=obj, actor=user)


class PartnerBankAdapter(ModelAdapter):
    """A registrant's bank accounts (upstream ``res.partner.bank``), saved by the registry's
    ``bank_account_save`` (validated; a duplicate account is refused)."""

    name = "res.partner.bank"
    model = BankAccount
    deletable = True
    schema = domains.BANK_ACCOUNT_SCHEMA
    app_perm = "g2p_registry_base.{verb}_bankaccount"
    rec_name = "acc_number"

    def declare_fields(self) -> list[RpcField]:
        return [
            RpcField("acc_number", "char", "Account Number", attr="acc_number", required=True),
            RpcField(
                "partner_id",
                "many2one",
                "Account Holder",
                attr="registrant",
                relation="res.partner",
                required=True,
            ),
            RpcField(
                "bank_id", "many2one", "Bank", attr="bank", relation="res.bank", required=True
            ),
            RpcField(
                "bank_name",
                "char",
                "Bank Name",
                compute=lambda o: o.bank.name if o.bank_id else False,
            ),
            RpcField(
                "bank_bic", "char", "Bank Identifier Code", compute=lambda o: o.bank.bic or False
            ),
            RpcField("acc_holder_name", "char", "Account Holder Name", attr="acc_holder_name"),
        ]

    def base_queryset(self, user: Any) -> QuerySet[Any]:
        return BankAccount.objects.select_related("bank", "registrant")

    def display_name(self, obj: Any) -> str:
        return obj.acc_number

    def save(self, user: Any, obj: Any, commands: Any) -> None:
        services.bank_account_save(account=obj, actor=user)


def _partner_phone(obj: Registrant) -> Any:
    phones = [p.phone_no for p in obj.phone_numbers.all() if p.disabled is None]
    return ", ".join(phones) or False


class RegIdAdapter(ModelAdapter):
    name = "g2p.reg.id"
    model = RegistrantId
    deletable = True
    schema = domains.REG_ID_SCHEMA
    app_perm = "g2p_registry_base.{verb}_registrantid"
    rec_name = "value"

    def declare_fields(self) -> list[RpcField]:
        return [
            RpcField(
                "partner_id",
                "many2one",
                "Registrant",
                attr="registrant",
                relation="res.partner",
                required=True,
            ),
            RpcField(
                "id_type",
                "many2one",
                "ID Type",
                attr="id_type",
                relation="g2p.id.type",
                required=True,
            ),
            RpcField("value", "char", "Value", attr="value"),
            RpcField("expiry_date", "date", "Expiry Date", attr="expiry_date"),
            RpcField(
                "status",
                "selection",
                "Status",
                attr="status",
                selection=[["invalid", "Invalid"], ["valid", "Valid"]],
            ),
            RpcField("description", "char", "Description", attr="description"),
            RpcField(
                "id_type_as_str",
                "char",
                "ID Type Name",
                compute=lambda o: o.id_type.name if o.id_type_id else False,
            ),
        ]

    def base_queryset(self, user: Any) -> QuerySet[Any]:
        return RegistrantId.objects.select_related("id_type", "registrant")

    def display_name(self, obj: Any) -> str:
        return obj.registrant.name if obj.registrant_id else ""

    def save(self, user: Any, obj: Any, commands: Any) -> None:
        services.reg_id_save(reg_id=obj, actor=user)


class PhoneAdapter(ModelAdapter):
    name = "g2p.phone.number"
    model = PhoneNumber
    deletable = True
    schema = domains.PHONE_SCHEMA
    app_perm = "g2p_registry_base.{verb}_phonenumber"
    rec_name = "phone_sanitized"

    def declare_fields(self) -> list[RpcField]:
        return [
            RpcField(
                "partner_id",
                "many2one",
                "Registrant",
                attr="registrant",
                relation="res.partner",
                required=True,
            ),
            RpcField("phone_no", "char", "Phone Number", attr="phone_no", required=True),
            RpcField(
                "phone_sanitized", "char", "Phone (E.164)", attr="phone_sanitized", readonly=True
            ),
            RpcField("date_collected", "date", "Date Collected", attr="date_collected"),
            RpcField("disabled", "datetime", "Date Disabled", attr="disabled", readonly=True),
        ]

    def display_name(self, obj: Any) -> str:
        return obj.phone_no

    def save(self, user: Any, obj: Any, commands: Any) -> None:
        services.phone_save(phone=obj, actor=user)


class MembershipAdapter(ModelAdapter):
    name = "g2p.group.membership"
    model = GroupMembership
    schema = domains.MEMBERSHIP_SCHEMA
    app_perm = "g2p_registry_base.{verb}_groupmembership"
    rec_name = None

    def declare_fields(self) -> list[RpcField]:
        return [
            RpcField(
                "group", "many2one", "Group", attr="group", relation="res.partner", required=True
            ),
            RpcField(
                "individual",
                "many2one",
                "Member",
                attr="individual",
                relation="res.partner",
                required=True,
            ),
            RpcField(
                "kind", "many2many", "Kind", attr="kinds", relation="g2p.group.membership.kind"
            ),
            RpcField("start_date", "datetime", "Start Date", attr="start_date"),
            RpcField("ended_date", "datetime", "Ended Date", attr="ended_date"),
            RpcField(
                "status",
                "selection",
                "Status",
                compute=lambda o: str(o.status),
                selection=[["active", "Active"], ["inactive", "Inactive"]],
            ),
        ]

    def base_queryset(self, user: Any) -> QuerySet[Any]:
        return GroupMembership.objects.select_related("group", "individual")

    def create_one(self, user: Any, vals: dict[str, Any]) -> int:
        plain, commands = self.scalar_values(vals)
        obj = GroupMembership(**plain)
        services.membership_save(
            membership=obj, kinds=self.kinds_from(obj, commands.get("kind")), actor=user
        )
        return obj.pk

    def write_one(self, user: Any, obj: Any, vals: dict[str, Any]) -> None:
        plain, commands = self.scalar_values(vals)
        for attr, value in plain.items():
            setattr(obj, attr, value)
        services.membership_save(
            membership=obj, kinds=self.kinds_from(obj, commands.get("kind")), actor=user
        )

    def kinds_from(self, obj: GroupMembership, commands: Any) -> list[MembershipKind] | None:
        """The kinds after applying many2many commands 3-6 (4 add, 3 remove, 5 clear, 6 set)."""
        if commands is None:
            return None
        current = set(obj.kinds.values_list("pk", flat=True)) if obj.pk else set()
        for command in commands:
            code = command[0] if isinstance(command, list | tuple) and command else None
            if code == 4:
                current.add(command[1])
            elif code == 3:
                current.discard(command[1])
            elif code == 5:
                current.clear()
            elif code == 6:
                current = set(_ids(command[2]))
            else:
                raise ValueError(f"Invalid x2many command {command!r} for field 'kind'")
        kinds = list(MembershipKind.objects.filter(pk__in=current))
        if len(kinds) != len(current):
            raise MissingError(
                "Record does not exist or has been deleted. (g2p.group.membership.kind)"
            )
        return kinds

    def display_name(self, obj: Any) -> str:
        return str(obj)

    def delete_one(self, user: Any, obj: Any) -> None:
        services.require_perm(user, "g2p_registry_base.delete_groupmembership")
        obj.delete()


class ConfigAdapter(ModelAdapter):
    """A configuration list: readable over RPC, changed in the back office."""

    def check_writable(self, verb: str) -> None:
        if verb != "view":
            raise AccessError(
                f"'{self.name}' is configured in the back office; it is read-only over RPC."
            )

    def display_name(self, obj: Any) -> str:
        return obj.name


def _config(
    rpc_name: str,
    model_cls: type[models.Model],
    schema: domains.DomainSchema,
    perm: str,
    declared: Callable[[], list[RpcField]],
) -> type[ConfigAdapter]:
    return type(
        model_cls.__name__ + "Adapter",
        (ConfigAdapter,),
        {
            "name": rpc_name,
            "model": model_cls,
            "schema": schema,
            "app_perm": perm,
            "declare_fields": lambda self: declared(),
        },
    )


IdTypeAdapter = _config(
    "g2p.id.type",
    IdType,
    domains.ID_TYPE_SCHEMA,
    "g2p_registry_base.{verb}_idtype",
    lambda: [
        RpcField("name", "char", "ID Type", attr="name", required=True),
        RpcField("id_validation", "char", "ID Type Validation", attr="id_validation"),
        RpcField("description", "text", "Description", attr="description"),
    ],
)
MembershipKindAdapter = _config(
    "g2p.group.membership.kind",
    MembershipKind,
    domains.MEMBERSHIP_KIND_SCHEMA,
    "g2p_registry_base.{verb}_membershipkind",
    lambda: [
        RpcField("name", "char", "Kind", attr="name", required=True),
        RpcField("is_unique", "boolean", "Unique", attr="is_unique"),
    ],
)
GroupKindAdapter = _config(
    "g2p.group.kind",
    GroupKind,
    domains.GROUP_KIND_SCHEMA,
    "g2p_registry_base.{verb}_groupkind",
    lambda: [RpcField("name", "char", "Kind", attr="name", required=True)],
)
BankAdapter = _config(
    "res.bank",
    Bank,
    domains.BANK_SCHEMA,
    "g2p_registry_base.{verb}_bank",
    lambda: [
        RpcField("name", "char", "Name", attr="name", required=True),
        RpcField("bic", "char", "Bank Identifier Code", attr="bic"),
        RpcField("country_code", "char", "Country Code", attr="country_code"),
    ],
)
CompanyAdapter = _config(
    "res.company",
    Company,
    domains.COMPANY_SCHEMA,
    "g2p_registry_base.{verb}_company",
    lambda: [
        RpcField("name", "char", "Company Name", attr="name", required=True),
        RpcField("country_code", "char", "Country Code", attr="country_code"),
        RpcField("currency", "char", "Currency", attr="currency"),
    ],
)


class CompanyReadAdapter(CompanyAdapter):  # type: ignore[misc, valid-type]
    """Every signed-in user reads the companies (clients read ``company_id`` of the user)."""

    def require(self, user: Any, verb: str) -> None:
        if verb != "view":
            super().require(user, verb)


USER_SCHEMA = domains.DomainSchema(
    get_user_model(),
    {
        "login": domains.FieldSpec("username", "char"),
        "email": domains.FieldSpec("email", "char"),
        "active": domains.FieldSpec("is_active", "boolean"),
    },
    name="res.users",
    rec_name="login",
)


class UserAdapter(ModelAdapter):
    """Django users as ``res.users``: each user reads themself; staff with the right read all."""

    name = "res.users"
    model = get_user_model()
    schema = USER_SCHEMA
    app_perm = "auth.{verb}_user"
    rec_name = "login"
    extra_methods = frozenset({"context_get"})

    def declare_fields(self) -> list[RpcField]:
        return [
            RpcField("login", "char", "Login", attr="username", readonly=True),
            RpcField("name", "char", "Name", compute=lambda u: u.get_full_name() or u.username),
            RpcField("email", "char", "Email", attr="email", readonly=True),
            RpcField("active", "boolean", "Active", attr="is_active", readonly=True),
            RpcField(
                "company_id",
                "many2one",
                "Company",
                compute=_user_company,
                relation="res.company",
            ),
        ]

    def require(self, user: Any, verb: str) -> None:
        if verb == "view":
            return  # narrowed by base_queryset
        super().require(user, verb)

    def check_writable(self, verb: str) -> None:
        if verb != "view":
            raise AccessError("Users are managed in the back office; read-only over RPC.")

    def base_queryset(self, user: Any) -> QuerySet[Any]:
        qs = self.model._default_manager.all()
        return qs if user.has_perm("auth.view_user") else qs.filter(pk=user.pk)

    def display_name(self, obj: Any) -> str:
        return obj.get_full_name() or obj.username

    def context_get(self, user: Any, **_: Any) -> dict[str, Any]:
        from django.conf import settings

        return {"lang": "en_US", "tz": settings.TIME_ZONE, "uid": user.pk}


def _user_company(user: Any) -> Any:
    company = Company.objects.order_by("pk").first()
    return [company.pk, company.name] if company else False


class IrModelAdapter(ModelAdapter):
    """``ir.model``: the list of models this API exposes (clients discover models with it).

    Not a table: ids are positions in the sorted list of names. Domains may only test
    ``model`` with ``=`` or ``in``.
    """

    name = "ir.model"
    model = get_user_model()  # unused: records are the registry's entries
    rec_name = "model"
    extra_methods = frozenset({"get_available_models"})

    def declare_fields(self) -> list[RpcField]:
        return [
            RpcField("model", "char", "Model", compute=lambda r: r["model"]),
            RpcField("name", "char", "Model Description", compute=lambda r: r["model"]),
            RpcField("transient", "boolean", "Transient Model", compute=lambda r: False),
        ]

    def require(self, user: Any, verb: str) -> None:
        if verb != "view":
            raise AccessError("'ir.model' is read-only over RPC.")

    def entries(self) -> list[dict[str, Any]]:
        return [{"id": i, "model": n} for i, n in enumerate(sorted(self.registry), start=1)]

    def matching(self, domain: Any) -> list[dict[str, Any]]:
        rows = self.entries()
        for leaf in domain or []:
            if not (isinstance(leaf, list | tuple) and len(leaf) == 3 and leaf[0] == "model"):
                raise ValueError(
                    f"Invalid domain on 'ir.model': {leaf!r} (only 'model' is searchable)"
                )
            if leaf[1] == "=":
                rows = [r for r in rows if r["model"] == leaf[2]]
            elif leaf[1] == "in":
                rows = [r for r in rows if r["model"] in list(leaf[2])]
            else:
                raise ValueError(f"Invalid operator {leaf[1]!r} on 'ir.model'")
        return rows

    def display_name(self, obj: Any) -> str:
        return obj["model"]

    def search(
        self,
        user: Any,
        domain: Any = None,
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
        **_: Any,
    ) -> list[int]:
        ids = [r["id"] for r in self.matching(domain)][int(offset or 0) :]
        return ids[: int(limit)] if limit else ids

    def search_count(self, user: Any, domain: Any = None, **_: Any) -> int:
        return len(self.matching(domain))

    def read(self, user: Any, ids: Any, fields: list[str] | None = None, **_: Any) -> list[dict]:
        by_id = {r["id"]: r for r in self.entries()}
        wanted = [self.field(n) for n in (fields or []) if n != "id"] or [
            f for n, f in self.fields.items() if n != "id"
        ]
        rows = []
        for pk in _ids(ids):
            if pk in by_id:
                rows.append(
                    {"id": pk, **{f.name: f.compute(by_id[pk]) for f in wanted if f.compute}}
                )
        return rows

    def default_get(self, user: Any, fields_list: list[str] | None = None, **_: Any) -> dict:
        return {}

    def get_available_models(self, user: Any, **_: Any) -> list[dict[str, Any]]:
        return [{"model": r["model"], "transient": False} for r in self.entries()]


ADAPTERS: tuple[type[ModelAdapter], ...] = (
    IrModelAdapter,
    PartnerAdapter,
    RegIdAdapter,
    PhoneAdapter,
    MembershipAdapter,
    IdTypeAdapter,
    MembershipKindAdapter,
    GroupKindAdapter,
    CompanyReadAdapter,
    UserAdapter,
    TagAdapter,
    PartnerBankAdapter,
    BankAdapter,
)


def build_registry(adapters: Iterable[type[ModelAdapter]] = ADAPTERS) -> dict[str, ModelAdapter]:
    """The adapters by model name, with Odoo's technical models (``ir.model.data``,
    ``ir.model.access``, ``res.groups``) always included."""
    from addons.g2p_rpc.ir_map import IR_ADAPTERS  # built on this module's classes

    registry: dict[str, ModelAdapter] = {}
    for cls in (*adapters, *IR_ADAPTERS):
        registry[cls.name] = cls(registry)
    return registry


def _aggregate_spec(item: str) -> tuple[str, str, str | None]:
    """``name`` / ``name:agg`` / ``alias:agg(name)`` -> (alias, field, agg or None)."""
    alias, _sep, rest = item.partition(":")
    if not rest:
        return alias, alias, None
    if "(" in rest and rest.endswith(")"):
        func, _p, fname = rest[:-1].partition("(")
        return alias, fname, func
    return alias, alias, rest


def _group_ordering(
    orderby: Any, group_keys: list[tuple[str, str, Any, str | None]], aggregates: dict[str, Any]
) -> list[Any]:
    aliases = {spec.split(":")[0]: alias for spec, alias, _f, _g in group_keys}
    aliases.update({a: a for a in aggregates})
    aliases["__count"] = "__count"
    result: list[Any] = []
    if orderby:
        if not isinstance(orderby, str):
            raise ValueError(f"Invalid orderby {orderby!r}")
        for part in orderby.split(","):
            words = part.split()
            if not words or len(words) > 2 or words[0].split(":")[0] not in aliases:
                raise ValueError(f"Invalid orderby {orderby!r}: group by or aggregate fields only")
            expr = models.F(aliases[words[0].split(":")[0]])
            desc = len(words) == 2 and words[1].lower() == "desc"
            result.append(expr.desc(nulls_last=True) if desc else expr.asc(nulls_first=True))
    for _spec, alias, _f, _g in group_keys:
        result.append(models.F(alias).asc(nulls_first=True))
    return result


def _period_label(value: Any, gran: str) -> str:
    if gran == "day":
        return value.strftime("%d %b %Y")
    if gran == "week":
        return f"W{value.isocalendar()[1]:02d} {value.isocalendar()[0]}"
    if gran == "month":
        return value.strftime("%B %Y")
    if gran == "quarter":
        return f"Q{(value.month - 1) // 3 + 1} {value.year}"
    return str(value.year)


def _period_domain(name: str, start: Any, gran: str) -> list[Any]:
    if start is None:
        return [(name, "=", False)]
    from dateutil.relativedelta import relativedelta

    step = {
        "day": relativedelta(days=1),
        "week": relativedelta(weeks=1),
        "month": relativedelta(months=1),
        "quarter": relativedelta(months=3),
        "year": relativedelta(years=1),
    }[gran]
    return ["&", (name, ">=", start.isoformat()), (name, "<", (start + step).isoformat())]


def _and_domains(parts: list[list[Any]]) -> list[Any]:
    """The prefix-notation conjunction of non-empty domains."""
    parts = [p for p in parts if p]
    result: list[Any] = ["&"] * (len(parts) - 1)
    for part in parts:
        result += part
    return result
