"""Program roles hold exactly their permissions, beside the registry's on shared roles."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from g2p_programs import roles
from g2p_registry_base import roles as registry_roles
from g2p_registry_base.choices import ROLE_ADMIN

pytestmark = pytest.mark.django_db


def _program_perms(role: str) -> set[tuple[str, str]]:
    return set(
        Group.objects.get(name=role)
        .permissions.filter(content_type__app_label="g2p_programs")
        .values_list("content_type__app_label", "codename")
    )


def test_program_roles_exist_with_exactly_their_permissions() -> None:
    for role, perms in roles.role_permissions().items():
        assert _program_perms(role) == perms, role


def test_meaning_of_each_role() -> None:
    perms = {role: {c for _a, c in p} for role, p in roles.role_permissions().items()}
    assert "approve_cycle" in perms[roles.ROLE_CYCLE_APPROVER]
    assert "approve_cycle" not in perms[roles.ROLE_PROGRAM_VALIDATOR]
    assert "approve_cycle" not in perms[roles.ROLE_PROGRAM_MANAGER]
    assert "approve_entitlement" in perms[roles.ROLE_FINANCE_VALIDATOR]
    assert "approve_entitlement" not in perms[roles.ROLE_PROGRAM_MANAGER]
    assert "post_fund" in perms[roles.ROLE_FINANCE_VALIDATOR]
    assert "post_fund" not in perms[roles.ROLE_PROGRAM_MANAGER]
    assert "prepare_entitlements" in perms[roles.ROLE_PROGRAM_MANAGER]
    assert {c for c in perms[roles.ROLE_PROGRAM_VALIDATOR] if c.startswith("delete_")} == set()
    # A cycle approver is a program validator who may also approve cycles.
    assert perms[roles.ROLE_CYCLE_APPROVER] == perms[roles.ROLE_PROGRAM_VALIDATOR] | {
        "approve_cycle"
    }


def test_registry_sync_keeps_the_program_permissions_of_shared_roles() -> None:
    before = _program_perms(ROLE_ADMIN)
    assert before == roles.role_permissions()[ROLE_ADMIN]
    registry_roles.sync_roles()
    assert _program_perms(ROLE_ADMIN) == before
    roles.sync_roles()
    assert _program_perms(ROLE_ADMIN) == before
