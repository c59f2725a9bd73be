"""Who may download payment files and reconcile payments.

Finance Validators (who send payments) and Registry Administrators download payment files and
import bank result files; every role may view the file configurations and the import history.
Program Validators can do neither.
"""

from __future__ import annotations

from typing import Any

from g2p_programs.roles import ROLE_FINANCE_VALIDATOR
from g2p_registry_base.choices import ROLE_ADMIN

APP = "g2p_payment_files"
DOWNLOAD = "download_paymentfile"
RECONCILE = "reconcile_payments"

ROLE_PERMISSIONS: dict[str, set[str]] = {
    ROLE_FINANCE_VALIDATOR: {
        "view_paymentfileconfig",
        "view_paymentfile",
        "view_reconciliationimport",
        DOWNLOAD,
        RECONCILE,
    },
    ROLE_ADMIN: {
        "view_paymentfileconfig",
        "add_paymentfileconfig",
        "change_paymentfileconfig",
        "delete_paymentfileconfig",
        "view_paymentfile",
        "view_reconciliationimport",
        DOWNLOAD,
        RECONCILE,
    },
}


def sync_roles() -> None:
    """Grant this app's permissions to the roles above (idempotent; other apps' are kept)."""
    from django.contrib.auth.models import Group, Permission

    for role, codenames in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label=APP, codename__in=codenames)
        )


def sync_roles_after_migrate(**kwargs: Any) -> None:
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    create_permissions(
        global_apps.get_app_config(APP), verbosity=0, using=kwargs.get("using", "default")
    )
    sync_roles()
