"""The registry's roles (Django groups) and the permissions each one grants.

Roles are data kept in step with this table after every ``migrate``: permissions are granted
through them and checked server-side on every path (admin views, services, imports).

- Registry Administrator: everything in the registry, including delete, disable/enable and the
  configuration lists.
- Registrar: create and edit registrants and what hangs on them, import files; read the
  configuration; never delete, never disable (as upstream: disabling is for administrators).
- Registry Viewer: read only.
"""

from __future__ import annotations

from typing import Any

from g2p_registry_base.choices import ROLE_ADMIN, ROLE_REGISTRAR, ROLE_VIEWER

APP = "g2p_registry_base"

# Records a registrar edits.
REGISTRY_DATA = [
    "registrant",
    "individual",
    "group",
    "registrantid",
    "phonenumber",
    "bankaccount",
    "groupmembership",
    "relationship",
    "registryimport",
]
# Configuration lists only administrators change.
REGISTRY_CONFIG = [
    "idtype",
    "registranttag",
    "groupkind",
    "membershipkind",
    "relationshiptype",
    "gendertype",
    "bank",
    "company",
]


def role_permissions() -> dict[str, set[tuple[str, str]]]:
    """Role name -> set of (app_label, codename)."""
    everything = REGISTRY_DATA + REGISTRY_CONFIG
    admin = {
        (APP, f"{verb}_{model}")
        for model in everything
        for verb in ("view", "add", "change", "delete")
    }
    admin.add((APP, "disable_registrant"))
    admin.add(("pbms", "view_jobprogress"))
    registrar = {
        (APP, f"{verb}_{model}") for model in REGISTRY_DATA for verb in ("view", "add", "change")
    }
    registrar |= {(APP, f"view_{model}") for model in REGISTRY_CONFIG}
    registrar.add(("pbms", "view_jobprogress"))
    viewer = {(APP, f"view_{model}") for model in everything}
    return {ROLE_ADMIN: admin, ROLE_REGISTRAR: registrar, ROLE_VIEWER: viewer}


def sync_roles(**_: Any) -> None:
    """Create the roles and give them exactly the registry permissions listed above (idempotent)."""
    from django.contrib.auth.models import Group, Permission
    from django.db.models import Q

    for role, perms in role_permissions().items():
        group, _created = Group.objects.get_or_create(name=role)
        query = Q(pk__in=[])
        for app_label, codename in perms:
            query |= Q(content_type__app_label=app_label, codename=codename)
        wanted = list(Permission.objects.filter(query))
        missing = {c for _a, c in perms} - {p.codename for p in wanted}
        if missing:
            raise RuntimeError(f"permissions missing for role {role}: {sorted(missing)}")
        # Only the permissions of the apps listed here are managed; other apps (programs, …)
        # add theirs to the same roles.
        managed = {app_label for app_label, _c in perms} | {APP}
        stale = group.permissions.filter(content_type__app_label__in=managed).exclude(
            pk__in=[p.pk for p in wanted]
        )
        group.permissions.remove(*stale)
        group.permissions.add(*wanted)


def sync_roles_after_migrate(**kwargs: Any) -> None:
    # Permissions of every app exist only once all post_migrate handlers for auth have run;
    # create them explicitly so the order of apps does not matter.
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=kwargs.get("using", "default"))
    sync_roles()


# Add-on apps grant their own permissions to the shared roles: app label -> role -> codenames.
ADDON_ROLES: dict[str, dict[str, frozenset[str]]] = {}


def register_addon_roles(app_config: Any, role_codenames: dict[str, set[str]]) -> None:
    """Give ``role_codenames`` (role -> codenames of the app's own permissions) to the roles after
    every ``migrate`` and whenever the base data is restored; call from the app's ``ready()``."""
    from django.db.models.signals import post_migrate

    ADDON_ROLES[app_config.label] = {role: frozenset(c) for role, c in role_codenames.items()}
    post_migrate.connect(
        _addon_roles_after_migrate, sender=app_config, dispatch_uid=f"roles:{app_config.label}"
    )


def sync_addon_roles() -> None:
    """Make each role hold exactly the add-on permissions registered for it (idempotent)."""
    from django.contrib.auth.models import Group, Permission

    for app_label, role_map in ADDON_ROLES.items():
        for role, codenames in role_map.items():
            group, _created = Group.objects.get_or_create(name=role)
            wanted = list(
                Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
            )
            missing = codenames - {p.codename for p in wanted}
            if missing:
                raise RuntimeError(f"permissions missing for role {role}: {sorted(missing)}")
            stale = group.permissions.filter(content_type__app_label=app_label).exclude(
                pk__in=[p.pk for p in wanted]
            )
            group.permissions.remove(*stale)
            group.permissions.add(*wanted)


def _addon_roles_after_migrate(**kwargs: Any) -> None:
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    using = kwargs.get("using", "default")
    for label in ADDON_ROLES:
        create_permissions(global_apps.get_app_config(label), verbosity=0, using=using)
    sync_addon_roles()
