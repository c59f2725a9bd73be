"""The PMT configuration is changed by Program Managers and administrators only; every program
role reads the configuration and the scores."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied

from g2p_pmt.models import PmtConfig, PmtScore
from g2p_pmt.roles import ROLE_PERMISSIONS
from g2p_pmt.services import pmt_config_save
from g2p_programs.factories import ProgramFactory
from g2p_programs.roles import ROLE_PROGRAM_MANAGER, ROLE_PROGRAM_VALIDATOR
from g2p_registry_base.factories import IndividualFactory
from g2p_registry_base.roles import sync_addon_roles

pytestmark = pytest.mark.django_db

INDICATORS = [{"name": "x1", "source": "info", "key": "x1", "weight": Decimal("0.5")}]


def test_program_manager_configures_validators_and_finance_are_refused(
    program_manager_user, validator_user, finance
) -> None:  # type: ignore[no-untyped-def]
    program = ProgramFactory()
    person = IndividualFactory(additional_g2p_info={"x1": 4})
    for user in (validator_user, finance):
        assert user.has_perm("g2p_pmt.view_pmtscore")
        with pytest.raises(PermissionDenied):
            pmt_config_save(program=program, enabled=True, indicators=INDICATORS, actor=user)
    assert not PmtConfig.objects.filter(program=program).exists()
    assert not PmtScore.objects.exists()
    pmt_config_save(
        program=program, enabled=True, indicators=INDICATORS, actor=program_manager_user
    )
    assert PmtScore.objects.get(program=program, registrant=person).score == Decimal("2.0")


def test_sync_restores_exactly_the_listed_permissions() -> None:
    manager = Group.objects.get(name=ROLE_PROGRAM_MANAGER)
    manager.permissions.remove(*manager.permissions.filter(content_type__app_label="g2p_pmt"))
    validator = Group.objects.get(name=ROLE_PROGRAM_VALIDATOR)
    extra = manager.permissions.model.objects.get(
        content_type__app_label="g2p_pmt", codename="change_pmtconfig"
    )
    validator.permissions.add(extra)
    sync_addon_roles()
    sync_addon_roles()
    for group in (manager, validator):
        held = set(
            group.permissions.filter(content_type__app_label="g2p_pmt").values_list(
                "codename", flat=True
            )
        )
        assert held == ROLE_PERMISSIONS[group.name]
