"""Program roles with upstream's meaning (``g2p_programs`` security groups), enforced server-side.

- Program Manager: configures programs and their managers, enrols, deduplicates, creates and
  runs cycles, prepares entitlements and payments.
- Program Validator: reads programs and lifecycle records; edits memberships and cycles.
- Cycle Approver: a Program Validator who may approve cycles (``approve_cycle``).
- Finance Validator: approves entitlements against the fund, posts funds, prepares and sends
  payments.
Registry Administrators hold every program permission as well.
"""

from __future__ import annotations

from typing import Any

from g2p_registry_base.choices import ROLE_ADMIN

APP = "g2p_programs"
ROLE_PROGRAM_MANAGER = "Program Manager"
ROLE_PROGRAM_VALIDATOR = "Program Validator"
ROLE_CYCLE_APPROVER = "Cycle Approver"
ROLE_FINANCE_VALIDATOR = "Finance Validator"

MODELS = [
    "program",
    "managerassignment",
    "programmembership",
    "duplicategroup",
    "cycle",
    "cyclemembership",
    "entitlement",
    "paymentbatchtag",
    "paymentbatch",
    "payment",
    "programfund",
]


def _perms(models: list[str], *verbs: str) -> set[tuple[str, str]]:
    return {(APP, f"{verb}_{model}") for model in models for verb in verbs}


def role_permissions() -> dict[str, set[tuple[str, str]]]:
    view_all = _perms(MODELS, "view")
    manager = view_all | _perms(
        [
            "program",
            "managerassignment",
            "programmembership",
            "duplicategroup",
            "cycle",
            "cyclemembership",
            "entitlement",
            "paymentbatchtag",
            "paymentbatch",
            "payment",
        ],
        "add",
        "change",
    )
    manager |= _perms(["cycle", "entitlement", "paymentbatchtag"], "delete")
    manager |= {(APP, "prepare_entitlements"), (APP, "prepare_payments")}
    validator = view_all | _perms(["program", "programmembership", "cycle"], "add", "change")
    approver = validator | {(APP, "approve_cycle")}
    finance = view_all | _perms(
        ["entitlement", "payment", "paymentbatch", "programfund"], "add", "change"
    )
    finance |= {
        (APP, "approve_entitlement"),
        (APP, "post_fund"),
        (APP, "prepare_payments"),
        (APP, "send_payments"),
    }
    admin = _perms(MODELS, "view", "add", "change", "delete") | {
        (APP, codename)
        for codename in (
            "approve_cycle",
            "approve_entitlement",
            "post_fund",
            "prepare_entitlements",
            "prepare_payments",
            "send_payments",
        )
    }
    return {
        ROLE_PROGRAM_MANAGER: manager,
        ROLE_PROGRAM_VALIDATOR: validator,
        ROLE_CYCLE_APPROVER: approver,
        ROLE_FINANCE_VALIDATOR: finance,
        ROLE_ADMIN: admin,
    }


def sync_roles(**_: Any) -> None:
    """Add the program permissions to each role (idempotent; other apps' permissions are kept)."""
    from django.contrib.auth.models import Group, Permission

    for role, perms in role_permissions().items():
        group, _created = Group.objects.get_or_create(name=role)
        wanted = set(
            Permission.objects.filter(
                content_type__app_label=APP, codename__in=[c for _a, c in perms]
            )
        )
        missing = {c for _a, c in perms} - {p.codename for p in wanted}
        if missing:
            raise RuntimeError(f"permissions missing for role {role}: {sorted(missing)}")
        stale = group.permissions.filter(content_type__app_label=APP).exclude(
            pk__in=[p.pk for p in wanted]
        )
        group.permissions.remove(*stale)
        group.permissions.add(*wanted)


def sync_roles_after_migrate(**kwargs: Any) -> None:
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    create_permissions(
        global_apps.get_app_config(APP), verbosity=0, using=kwargs.get("using", "default")
    )
    sync_roles()
