"""Base data every installation has: created by migrations, restored by :func:`ensure_base_data`.

Database flushes (transactional tests, ``g2p flush``) empty every table; ``ensure_base_data``
puts back the default company, gender types, group kinds, the protected Head kind, permissions
and roles. It is idempotent.
"""

from __future__ import annotations

from typing import Any


def seed_registry(apps: Any) -> None:
    """The registry's seeded lists (also run by migration ``0002_rules_and_seed``)."""
    from django.conf import settings

    company = apps.get_model("g2p_registry_base", "Company")
    gender_type = apps.get_model("g2p_registry_base", "GenderType")
    group_kind = apps.get_model("g2p_registry_base", "GroupKind")
    membership_kind = apps.get_model("g2p_registry_base", "MembershipKind")
    if not company.objects.exists():
        company.objects.create(
            name="Default Company", country_code=settings.G2P_DEFAULT_PHONE_REGION, currency="USD"
        )
    for code, value in (("Female", "Female"), ("Male", "Male"), ("Other", "Other")):
        gender_type.objects.get_or_create(value=value, defaults={"code": code})
    for name in ("Household", "Family"):
        group_kind.objects.get_or_create(name=name)
    membership_kind.objects.get_or_create(
        name="Head", defaults={"is_unique": True, "protected": True}
    )


def ensure_base_data(using: str = "default") -> None:
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.contenttypes.management import create_contenttypes

    from g2p_programs import roles as program_roles
    from g2p_registry_base import roles as registry_roles

    seed_registry(apps)
    for app_config in apps.get_app_configs():
        create_contenttypes(app_config, verbosity=0, using=using)
        create_permissions(app_config, verbosity=0, using=using)
    registry_roles.sync_roles()
    program_roles.sync_roles()
    registry_roles.sync_addon_roles()
