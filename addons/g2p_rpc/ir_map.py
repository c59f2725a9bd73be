"""Odoo's technical models as clients use them: ``ir.model.data`` (external identifiers),
``ir.model.access`` (who may do what) and ``res.groups`` (the roles).

``ir.model.data`` is a table (:class:`~addons.g2p_rpc.models.RpcExternalId`). ``res.groups``
and ``ir.model.access`` are computed from the roles and their permissions on every call, so
they always tell the truth about the permissions the server checks: a handful of queries
each, whatever the number of registrants.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models import QuerySet

from addons.g2p_rpc import xmlids
from addons.g2p_rpc.errors import AccessError
from addons.g2p_rpc.fields import RpcField
from addons.g2p_rpc.models import RpcExternalId
from addons.g2p_rpc.models_map import IrModelAdapter, ModelAdapter, _ids
from pbms import domains

_MODES = {"read": "view", "write": "change", "create": "add", "unlink": "delete"}


class IrModelDataAdapter(ModelAdapter):
    """``ir.model.data``: every signed-in user reads it; naming a record needs the right to
    change it. ``check_object_reference`` and the older lookups answer as Odoo 17 does."""

    name = "ir.model.data"
    model = RpcExternalId
    schema = domains.schema_from_model(
        RpcExternalId,
        name="ir.model.data",
        include=["module", "name", "model", "res_id", "noupdate"],
        rec_name="name",
    )
    extra_methods = frozenset(
        {
            "check_object_reference",
            "get_object_reference",
            "xmlid_lookup",
            "xmlid_to_res_model_res_id",
            "xmlid_to_res_id",
        }
    )

    def declare_fields(self) -> list[RpcField]:
        return [
            RpcField("module", "char", "Module", attr="module", required=True),
            RpcField("name", "char", "External Identifier", attr="name", required=True),
            RpcField("model", "char", "Model Name", attr="model", required=True),
            RpcField("res_id", "integer", "Record ID", attr="res_id", required=True),
            RpcField("noupdate", "boolean", "Non Updatable", attr="noupdate"),
            RpcField("complete_name", "char", "Complete ID", compute=str),
            RpcField("create_date", "datetime", "Created on", attr="create_date", readonly=True),
            RpcField("write_date", "datetime", "Last Updated on", attr="write_date", readonly=True),
        ]

    def display_name(self, obj: Any) -> str:
        return str(obj)

    def require(self, user: Any, verb: str) -> None:
        """Reading is open to signed-in users; writes check the named record's model."""

    def filtered(self, user: Any, domain: Any, context: dict[str, Any]) -> QuerySet[Any]:
        xmlids.xmlids_sync_builtin()
        return super().filtered(user, domain, context)

    def create_one(self, user: Any, vals: dict[str, Any]) -> int:
        plain, _commands = self.scalar_values(vals)
        external_id = RpcExternalId(**plain)
        xmlids.xmlid_save(external_id=external_id, actor=user, registry=self.registry)
        return external_id.pk

    def save(self, user: Any, obj: Any, commands: Any) -> None:
        xmlids.xmlid_save(external_id=obj, actor=user, registry=self.registry)

    def delete_one(self, user: Any, obj: Any) -> None:
        xmlids.xmlid_delete(external_id=obj, actor=user, registry=self.registry)

    # -- lookups -------------------------------------------------------------------------------

    def _visible(self, user: Any, row: RpcExternalId) -> bool:
        """Whether ``user`` can read the named record; Odoo's ``ValueError`` when it is gone
        (archived records count as present)."""
        adapter = self.registry.get(row.model)
        if adapter is None:
            raise ValueError(f"External ID not found in the system: {row}")
        everything = {"active_test": False}
        leaf = [("id", "=", row.res_id)]
        try:
            if adapter.search(user, leaf, 0, 1, None, everything):
                return True
        except AccessError:
            pass
        if not adapter.search(_System(), leaf, 0, 1, None, everything):
            raise ValueError(f"External ID not found in the system: {row}")
        return False

    def check_object_reference(
        self,
        user: Any,
        module: Any,
        xml_id: Any,
        raise_on_access_error: bool = False,
        **_: Any,
    ) -> list[Any]:
        """``[model, res_id]``; ``[model, False]`` (or ``AccessError`` when
        ``raise_on_access_error``) if ``user`` cannot read the record; ``ValueError``
        "External ID not found in the system: …" if there is no such identifier."""
        row = xmlids.xmlid_find(module=module, name=xml_id)
        if self._visible(user, row):
            return [row.model, row.res_id]
        if raise_on_access_error:
            raise AccessError(f"Not enough access rights on the external ID '{row}'")
        return [row.model, False]

    def get_object_reference(self, user: Any, module: Any, xml_id: Any, **_: Any) -> list[Any]:
        """The pre-15 name of the lookup: ``[model, res_id]`` or ``ValueError``."""
        row = xmlids.xmlid_find(module=module, name=xml_id)
        return [row.model, row.res_id]

    def xmlid_lookup(self, user: Any, xmlid: Any, **_: Any) -> list[Any]:
        """``[id, model, res_id]`` of ``"module.name"`` (the pre-17 shape) or ``ValueError``."""
        module, name = xmlids.xmlid_split(xmlid)
        row = xmlids.xmlid_find(module=module, name=name)
        return [row.pk, row.model, row.res_id]

    def xmlid_to_res_model_res_id(
        self, user: Any, xmlid: Any, raise_if_not_found: bool = False, **_: Any
    ) -> list[Any]:
        """``[model, res_id]``, or ``[False, False]`` for an unknown identifier unless
        ``raise_if_not_found``."""
        try:
            module, name = xmlids.xmlid_split(xmlid)
            row = xmlids.xmlid_find(module=module, name=name)
        except ValueError:
            if raise_if_not_found:
                raise
            return [False, False]
        return [row.model, row.res_id]

    def xmlid_to_res_id(
        self, user: Any, xmlid: Any, raise_if_not_found: bool = False, **_: Any
    ) -> Any:
        return self.xmlid_to_res_model_res_id(user, xmlid, raise_if_not_found)[1]


class _System:
    """The server itself, for existence checks only (every permission, no narrowing)."""

    pk = None
    is_superuser = True

    def has_perm(self, perm: str) -> bool:
        return True


# --- computed models -----------------------------------------------------------------------------


def _m2o_matches(value: Any, op: str, target: Any) -> bool:
    """Compare a many2one value (``[id, name]`` or ``False``) as Odoo does: ids by id,
    strings against the display name."""
    if isinstance(target, str) or (
        isinstance(target, list | tuple) and target and isinstance(target[0], str)
    ):
        return _scalar_matches(value[1] if value else False, op, target)
    return _scalar_matches(value[0] if value else False, op, target)


def _scalar_matches(value: Any, op: str, target: Any) -> bool:
    if op in ("=", "=="):
        return bool(value == target or (target is False and not value))
    if op in ("!=", "<>"):
        return not _scalar_matches(value, "=", target)
    if op in ("in", "not in"):
        items = list(target) if isinstance(target, list | tuple) else [target]
        found = value in items or (not value and False in items)
        return found if op == "in" else not found
    if op in ("like", "ilike", "not like", "not ilike", "=like", "=ilike"):
        text = str(value) if value not in (False, None) else ""
        pattern = str(target)
        if op.startswith("="):
            import re

            regex = re.escape(pattern).replace("%", ".*").replace("_", ".")
            flags = re.IGNORECASE if op == "=ilike" else 0
            return re.fullmatch(regex, text, flags) is not None
        if "ilike" in op:
            found = pattern.lower() in text.lower()
        else:
            found = pattern in text
        return not found if op.startswith("not") else found
    if op in ("<", "<=", ">", ">="):
        if value in (False, None):
            return False
        try:
            return bool(
                {"<": value < target, "<=": value <= target, ">": value > target}.get(
                    op, value >= target
                )
            )
        except TypeError:
            return False
    raise ValueError(f"Invalid operator {op!r}")


def _col(name: str, kind: str, string: str, **extra: Any) -> RpcField:
    """A field of a computed model: its value is the entry's key of the same name."""
    return RpcField(name, kind, string, compute=lambda row: row.get(name, False), **extra)


class ComputedAdapter(ModelAdapter):
    """A read-only model whose records are computed per call (:meth:`entries`).

    Domains use the full prefix syntax over the model's own fields (no dotted paths); many2one
    fields compare by id or, with a string, by display name; x2many fields match when any id
    does.
    """

    model = get_user_model()  # unused: records come from entries()
    schema = domains.DomainSchema(get_user_model(), {}, rec_name=None)

    def entries(self, user: Any) -> list[dict[str, Any]]:
        raise NotImplementedError

    def require(self, user: Any, verb: str) -> None:
        if verb != "view":
            raise AccessError(f"'{self.name}' is read-only over RPC.")

    def check_writable(self, verb: str) -> None:
        if verb != "view":
            raise AccessError(f"'{self.name}' is read-only over RPC.")

    def display_name(self, obj: Any) -> str:
        return str(obj.get(self.rec_name or "id", obj["id"]))

    def _leaf(self, row: dict[str, Any], leaf: Any) -> bool:
        left, op, value = leaf
        if left in (0, 1) and op == "=" and value == 1:  # constant TRUE / FALSE leaves
            return left == 1
        if left not in self.fields or left == "display_name":
            raise ValueError(f"Invalid field {left!r} in domain on {self.name!r}")
        fld = self.fields[left]
        current = row.get(left, False)
        if fld.type == "many2one":
            return _m2o_matches(current, op, value)
        if fld.type in ("one2many", "many2many"):
            members = list(current or [])
            if op in ("=", "in"):
                wanted = value if isinstance(value, list | tuple) else [value]
                return bool(set(members) & set(wanted)) or (value is False and not members)
            if op in ("!=", "not in"):
                wanted = value if isinstance(value, list | tuple) else [value]
                return not set(members) & set(wanted)
            raise ValueError(f"Invalid operator {op!r} on {left!r}")
        return _scalar_matches(current, op, value)

    def matching(self, user: Any, domain: Any) -> list[dict[str, Any]]:
        tokens = list(domains.parse_domain(domain or []))
        rows = self.entries(user)
        if not tokens:
            return rows

        def evaluate(row: dict[str, Any]) -> bool:
            stack: list[bool] = []
            for token in reversed(tokens):
                if token == "!":
                    stack.append(not stack.pop())
                elif token in ("&", "|"):
                    first, second = stack.pop(), stack.pop()
                    stack.append(first and second if token == "&" else first or second)
                else:
                    stack.append(self._leaf(row, token))
            return all(stack)

        return [row for row in rows if evaluate(row)]

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
        self.require(user, "view")
        rows = self.matching(user, domain)
        if order:
            for part in reversed(str(order).split(",")):
                words = part.split()
                fld = self.field(words[0])
                reverse = len(words) > 1 and words[1].lower() == "desc"
                key = fld.name
                rows.sort(key=lambda r: str(r.get(key, "")), reverse=reverse)  # noqa: B023
        ids = [r["id"] for r in rows][int(offset or 0) :]
        return ids[: int(limit)] if limit else ids

    def search_count(self, user: Any, domain: Any = None, **_: Any) -> int:  # type: ignore[override]
        return len(self.search(user, domain))

    def read(  # type: ignore[override]
        self,
        user: Any,
        ids: Any,
        fields: list[str] | None = None,
        load: str = "_classic_read",
        **_: Any,
    ) -> list[dict[str, Any]]:
        self.require(user, "view")
        wanted = [self.field(n) for n in (fields or []) if n != "id"] or [
            f for n, f in self.fields.items() if n != "id"
        ]
        by_id = {r["id"]: r for r in self.entries(user)}
        rows = []
        for pk in _ids(ids):
            row = by_id.get(pk)
            if row is None:
                continue
            out: dict[str, Any] = {"id": pk}
            for f in wanted:
                value = self.display_name(row) if f.name == "display_name" else row.get(f.name)
                if f.type == "many2one" and load != "_classic_read" and value:
                    value = value[0]
                out[f.name] = value if value is not None else False
            rows.append(out)
        return rows

    def default_get(self, user: Any, fields_list: list[str] | None = None, **_: Any) -> dict:
        return {}

    def read_group(self, user: Any, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        raise ValueError(f"read_group is not available on '{self.name}'")


class ResGroupsAdapter(ComputedAdapter):
    """``res.groups``: Odoo's "Internal User" (every active staff user) and "Settings" (the
    superusers), then each role with its members. Ids: see :mod:`addons.g2p_rpc.xmlids`."""

    name = "res.groups"
    rec_name = "name"

    def declare_fields(self) -> list[RpcField]:
        return [
            _col("name", "char", "Name"),
            _col("full_name", "char", "Group Name"),
            _col("users", "many2many", "Users", relation="res.users"),
            _col("share", "boolean", "Share Group"),
            _col("comment", "text", "Comment"),
        ]

    def entries(self, user: Any) -> list[dict[str, Any]]:
        users = get_user_model()._default_manager.filter(is_active=True)
        staff = list(users.filter(is_staff=True).order_by("pk").values_list("pk", flat=True))
        superusers = list(
            users.filter(is_superuser=True).order_by("pk").values_list("pk", flat=True)
        )
        members: dict[int, list[int]] = {}
        links = get_user_model().groups.through.objects.filter(user__is_active=True)
        for group_id, user_id in links.order_by("user_id").values_list("group_id", "user_id"):
            members.setdefault(group_id, []).append(user_id)
        rows = [
            {
                "id": xmlids.INTERNAL_USER_GROUP_ID,
                "name": "Internal User",
                "full_name": "User types / Internal User",
                "users": staff,
                "share": False,
                "comment": "Users of the back office.",
            },
            {
                "id": xmlids.SETTINGS_GROUP_ID,
                "name": "Settings",
                "full_name": "Administration / Settings",
                "users": superusers,
                "share": False,
                "comment": "Superusers: every permission.",
            },
        ]
        for group in Group.objects.order_by("name"):
            rows.append(
                {
                    "id": xmlids.role_group_id(group.pk),
                    "name": group.name,
                    "full_name": f"OpenG2P / {group.name}",
                    "users": members.get(group.pk, []),
                    "share": False,
                    "comment": False,
                }
            )
        return rows


class IrModelAccessAdapter(ComputedAdapter):
    """``ir.model.access``: one line per (model, role) the role has any right on, from the
    role's permissions; ``check(model, mode)`` answers for the calling user exactly as the
    server decides (the model's own rules included)."""

    name = "ir.model.access"
    rec_name = "name"
    extra_methods: ClassVar[frozenset[str]] = frozenset({"check"})

    def declare_fields(self) -> list[RpcField]:
        return [
            _col("name", "char", "Name"),
            _col("model_id", "many2one", "Model", relation="ir.model"),
            _col("group_id", "many2one", "Group", relation="res.groups"),
            _col("perm_read", "boolean", "Read Access"),
            _col("perm_write", "boolean", "Write Access"),
            _col("perm_create", "boolean", "Create Access"),
            _col("perm_unlink", "boolean", "Delete Access"),
            _col("active", "boolean", "Active"),
        ]

    def entries(self, user: Any) -> list[dict[str, Any]]:
        ir_model = self.registry["ir.model"]
        assert isinstance(ir_model, IrModelAdapter)
        model_ids = {r["model"]: r["id"] for r in ir_model.entries()}
        grants: dict[int, set[str]] = {}
        pairs = Permission.objects.filter(group__isnull=False).values_list(
            "group__id", "content_type__app_label", "codename"
        )
        for group_id, app_label, codename in pairs:
            grants.setdefault(group_id, set()).add(f"{app_label}.{codename}")
        rows: list[dict[str, Any]] = []
        groups = list(Group.objects.order_by("name").values_list("pk", "name"))
        for model_name in sorted(self.registry):
            adapter = self.registry[model_name]
            perm = getattr(adapter, "app_perm", None)
            if not isinstance(perm, str) or "{verb}" not in perm:
                continue
            for group_pk, group_name in groups:
                rights = {}
                for mode, verb in _MODES.items():
                    granted = perm.format(verb=verb) in grants.get(group_pk, set())
                    if granted and verb != "view":
                        try:
                            adapter.check_writable(verb)
                        except AccessError:
                            granted = False
                    rights[f"perm_{mode}"] = granted
                if not any(rights.values()):
                    continue
                rows.append(
                    {
                        "name": f"access_{model_name.replace('.', '_')}_{xmlids._slug(group_name)}",
                        "model_id": [model_ids[model_name], model_name],
                        "group_id": [xmlids.role_group_id(group_pk), group_name],
                        "active": True,
                        **rights,
                    }
                )
        for index, row in enumerate(rows, start=1):
            row["id"] = index
        return rows

    def check(
        self,
        user: Any,
        model: Any,
        mode: str = "read",
        raise_exception: bool = True,
        **_: Any,
    ) -> bool:
        """Whether ``user`` may ``mode`` (read / write / create / unlink) records of
        ``model``; ``AccessError`` instead of ``False`` when ``raise_exception``."""
        if mode not in _MODES:
            raise ValueError("Invalid access mode")
        if not isinstance(model, str):
            raise ValueError(f"Not a model name: {model!r}")
        adapter = self.registry.get(model)
        if adapter is None:
            if raise_exception:
                raise AccessError(
                    f"You are not allowed to {_VERB_TEXT[_MODES[mode]]} '{model}' records."
                )
            return False
        return bool(adapter.check_access_rights(user, mode, raise_exception))


_VERB_TEXT = {"view": "read", "add": "create", "change": "modify", "delete": "delete"}

IR_ADAPTERS: tuple[type[ModelAdapter], ...] = (
    IrModelDataAdapter,
    ResGroupsAdapter,
    IrModelAccessAdapter,
)
