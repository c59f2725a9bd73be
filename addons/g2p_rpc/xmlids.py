"""External identifiers (upstream ``ir.model.data``): the server's own and those clients add.

The server names its own records as Odoo and OpenG2P do, so that scripts calling
``env.ref("base.main_company")`` or
``env.ref("g2p_registry_membership.group_membership_kind_head")`` keep working:

- well-known records: ``base.main_company`` (the first company), ``base.user_admin`` (the user
  ``admin``, else the first superuser), ``base.group_user`` / ``base.group_system`` and the roles
  under their upstream ids (``g2p_registry_base.group_g2p_admin``,
  ``g2p_programs.g2p_program_manager`` …), all as ``res.groups`` records (:data:`ROLE_XMLIDS`);
- every record of the registry's configuration lists, named once, when first seen, from its
  name: ``g2p_registry_membership.group_membership_kind_head``,
  ``g2p_registry_group.group_kind_household``, ``g2p_registry_base.id_type_national_id``, … A
  later rename keeps the identifier.

:func:`xmlids_sync_builtin` brings these rows up to date in a fixed number of statements (two
per configuration list, four for the well-known records); the RPC layer calls it before it
answers from the table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils.translation import gettext as _

from addons.g2p_rpc.errors import AccessError
from addons.g2p_rpc.models import RpcExternalId
from g2p_programs.roles import (
    ROLE_CYCLE_APPROVER,
    ROLE_FINANCE_VALIDATOR,
    ROLE_PROGRAM_MANAGER,
    ROLE_PROGRAM_VALIDATOR,
)
from g2p_registry_base.choices import ROLE_ADMIN, ROLE_REGISTRAR, ROLE_VIEWER
from g2p_registry_base.models import Bank, Company, GroupKind, IdType, MembershipKind, RegistrantTag

# ``res.groups`` ids: Odoo's two base groups first, then the roles (Django groups) shifted by
# ROLE_ID_OFFSET so that no id is shared.
INTERNAL_USER_GROUP_ID = 1
SETTINGS_GROUP_ID = 2
ROLE_ID_OFFSET = 2

ROLE_XMLIDS: dict[str, tuple[str, str]] = {
    ROLE_ADMIN: ("g2p_registry_base", "group_g2p_admin"),
    ROLE_REGISTRAR: ("g2p_registry_base", "group_g2p_registrar"),
    ROLE_VIEWER: ("g2p_registry_base", "group_g2p_viewer"),
    ROLE_PROGRAM_MANAGER: ("g2p_programs", "g2p_program_manager"),
    ROLE_PROGRAM_VALIDATOR: ("g2p_programs", "g2p_program_validator"),
    ROLE_CYCLE_APPROVER: ("g2p_programs", "g2p_program_cycle_approver"),
    ROLE_FINANCE_VALIDATOR: ("g2p_programs", "g2p_finance_validator"),
}


@dataclass(frozen=True)
class ConfigList:
    """A configuration list whose records are each given an identifier ``module.prefix_slug``."""

    rpc_model: str
    model: type[models.Model]
    module: str
    prefix: str


CONFIG_LISTS = (
    ConfigList("g2p.id.type", IdType, "g2p_registry_base", "id_type"),
    ConfigList(
        "g2p.group.membership.kind",
        MembershipKind,
        "g2p_registry_membership",
        "group_membership_kind",
    ),
    ConfigList("g2p.group.kind", GroupKind, "g2p_registry_group", "group_kind"),
    ConfigList("g2p.registrant.tags", RegistrantTag, "g2p_registry_base", "registrant_tag"),
    ConfigList("res.bank", Bank, "g2p_registry_base", "bank"),
)

_MODULE = re.compile(r"[A-Za-z0-9_]+")
_NAME = re.compile(r"[A-Za-z0-9_.\-]+")


def role_group_id(group_pk: int) -> int:
    """The ``res.groups`` id of a role."""
    return group_pk + ROLE_ID_OFFSET


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", (text or "").lower()).strip("_")


def _well_known() -> dict[tuple[str, str], tuple[str, int | None]]:
    """(module, name) -> (model, res_id or None when the record does not exist); 3 queries."""
    users = get_user_model()._default_manager.filter(is_active=True)
    admin = users.filter(username="admin").values_list("pk", flat=True).first()
    if admin is None:
        admin = users.filter(is_superuser=True).order_by("pk").values_list("pk", flat=True).first()
    company = Company.objects.order_by("pk").values_list("pk", flat=True).first()
    roles = dict(Group.objects.filter(name__in=list(ROLE_XMLIDS)).values_list("name", "pk"))
    result: dict[tuple[str, str], tuple[str, int | None]] = {
        ("base", "main_company"): ("res.company", company),
        ("base", "user_admin"): ("res.users", admin),
        ("base", "group_user"): ("res.groups", INTERNAL_USER_GROUP_ID),
        ("base", "group_system"): ("res.groups", SETTINGS_GROUP_ID),
    }
    for role, key in ROLE_XMLIDS.items():
        pk = roles.get(role)
        result[key] = ("res.groups", role_group_id(pk) if pk is not None else None)
    return result


def xmlids_sync_builtin() -> None:
    """Bring the server's own identifiers up to date (idempotent, safe under concurrency).

    Well-known identifiers follow their record (and go when it does); each configuration
    record without one gets one; identifiers of deleted configuration records are removed.
    Statements: 4 for the well-known records, 2 per configuration list, then one ``INSERT …
    ON CONFLICT DO NOTHING`` and at most one ``UPDATE`` per moved well-known identifier.
    """
    wanted = _well_known()
    stored = {
        (row.module, row.name): row
        for row in RpcExternalId.objects.filter(
            builtin=True, module__in={m for m, _n in wanted}, name__in={n for _m, n in wanted}
        )
    }
    create: list[RpcExternalId] = []
    stale: list[int] = []
    for (module, name), (model, res_id) in wanted.items():
        row = stored.get((module, name))
        if res_id is None:
            if row is not None:
                stale.append(row.pk)
        elif row is None:
            create.append(
                RpcExternalId(
                    module=module,
                    name=name,
                    model=model,
                    res_id=res_id,
                    builtin=True,
                    noupdate=True,
                )
            )
        elif row.res_id != res_id or row.model != model:
            RpcExternalId.objects.filter(pk=row.pk).update(model=model, res_id=res_id)
    taken = set(
        RpcExternalId.objects.filter(module__in={c.module for c in CONFIG_LISTS}).values_list(
            "module", "name"
        )
    )
    for config in CONFIG_LISTS:
        named = RpcExternalId.objects.filter(builtin=True, model=config.rpc_model)
        stale.extend(
            named.exclude(res_id__in=config.model._default_manager.values("pk")).values_list(
                "pk", flat=True
            )
        )
        unnamed = config.model._default_manager.exclude(pk__in=named.values("res_id")).values_list(
            "pk", "name"
        )
        for pk, record_name in unnamed.order_by("pk"):
            name = f"{config.prefix}_{_slug(record_name) or pk}"
            if (config.module, name) in taken:
                name = f"{name}_{pk}"
            taken.add((config.module, name))
            create.append(
                RpcExternalId(
                    module=config.module,
                    name=name,
                    model=config.rpc_model,
                    res_id=pk,
                    builtin=True,
                    noupdate=True,
                )
            )
    if stale:
        RpcExternalId.objects.filter(pk__in=stale).delete()
    if create:
        RpcExternalId.objects.bulk_create(create, ignore_conflicts=True)


def xmlid_split(xmlid: Any) -> tuple[str, str]:
    """``"module.name"`` -> ``("module", "name")``; ``ValueError`` as Odoo for anything else."""
    if not isinstance(xmlid, str) or "." not in xmlid:
        raise ValueError(f"External ID not found in the system: {xmlid}")
    module, name = xmlid.split(".", 1)
    return module, name


def xmlid_find(*, module: Any, name: Any) -> RpcExternalId:
    """The identifier ``module.name``, else Odoo's ``ValueError``
    ("External ID not found in the system: module.name")."""
    row = None
    if isinstance(module, str) and isinstance(name, str):
        xmlids_sync_builtin()
        row = RpcExternalId.objects.filter(module=module, name=name).first()
    if row is None:
        raise ValueError(f"External ID not found in the system: {module}.{name}")
    return row


def _check_target(external_id: RpcExternalId, actor: Any, registry: dict[str, Any]) -> None:
    """The model exists over RPC, the record exists, and ``actor`` may change such records."""
    from addons.g2p_rpc.programs_map import WizardAdapter

    adapter = registry.get(external_id.model)
    if (
        adapter is None
        or external_id.model.startswith("ir.")
        or isinstance(adapter, WizardAdapter)  # transient records are not named
    ):
        raise ValidationError({"model": _("Unknown model %s.") % external_id.model})
    # Naming a record is changing it: the right to modify records of its model is required.
    adapter.require(actor, "change")
    if not adapter.search(actor, [("id", "=", external_id.res_id)], 0, 1):
        raise ValidationError(
            {
                "res_id": _("No %(model)s record has id %(id)s.")
                % {"model": external_id.model, "id": external_id.res_id}
            }
        )


def xmlid_save(*, external_id: RpcExternalId, actor: Any, registry: dict[str, Any]) -> None:
    """Create or change a client's identifier (validated, field-named errors; the server's
    own identifiers are refused with ``AccessError``)."""
    if external_id.builtin or (
        external_id.pk and RpcExternalId.objects.filter(pk=external_id.pk, builtin=True).exists()
    ):
        raise AccessError(_("The server's own external identifiers cannot be changed."))
    errors: dict[str, str] = {}
    if not _MODULE.fullmatch(external_id.module or ""):
        errors["module"] = _("A module is letters, digits and underscores, e.g. __api__.")
    if not _NAME.fullmatch(external_id.name or ""):
        errors["name"] = _("A name is letters, digits, '_', '-' and '.', without spaces.")
    if not isinstance(external_id.res_id, int) or external_id.res_id <= 0:
        errors["res_id"] = _("A record id (a positive integer) is required.")
    if errors:
        raise ValidationError(errors)
    _check_target(external_id, actor, registry)
    clash = RpcExternalId.objects.filter(module=external_id.module, name=external_id.name)
    if external_id.pk:
        clash = clash.exclude(pk=external_id.pk)
    if clash.exists():
        raise ValidationError({"name": _("The external ID %s already exists.") % f"{external_id}"})
    try:
        with transaction.atomic():
            external_id.save()
    except IntegrityError as exc:  # a concurrent call took the name first
        raise ValidationError(
            {"name": _("The external ID %s already exists.") % f"{external_id}"}
        ) from exc


def xmlid_delete(*, external_id: RpcExternalId, actor: Any, registry: dict[str, Any]) -> None:
    """Remove a client's identifier (the record it names stays)."""
    if external_id.builtin:
        raise AccessError(_("The server's own external identifiers cannot be changed."))
    adapter = registry.get(external_id.model)
    if adapter is not None:
        adapter.require(actor, "change")
    external_id.delete()
