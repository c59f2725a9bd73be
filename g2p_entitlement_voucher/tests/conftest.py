"""Fixtures of the voucher tests: an approved cycle of a program paying by voucher."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from g2p_entitlement_voucher.roles import ROLE_VOUCHER_REDEEMER
from g2p_programs.choices import CycleState, ManagerKind
from g2p_programs.models import Cycle, ManagerAssignment
from g2p_programs.services import entitlements as entitlement_services
from g2p_programs.tests.fixtures_money import (  # noqa: F401 - fixtures
    add_volume,
    finance,
    make_cycle,
    make_program,
    posted_fund,
    role_user,
    validator_user,
)


def voucher_cycle(
    n: int, *, name: str = "Food Vouchers", config: dict[str, Any] | None = None
) -> Cycle:
    """A cycle of ``n`` beneficiaries of a voucher program (25.00 each), prepared and approved:
    every entitlement has its voucher."""
    program = make_program(name=name, entitlement=False)
    ManagerAssignment(
        program=program,
        kind=ManagerKind.ENTITLEMENT,
        manager_key="voucher",
        config=config or {"amount_per_cycle": "25.00", "validity_days": 10},
    ).save()
    posted_fund(program, "1000000.00", name=f"PF-{name[:20]}")
    cycle = make_cycle(program)
    today = datetime.date.today()
    Cycle.objects.filter(pk=cycle.pk).update(
        start_date=today - datetime.timedelta(days=1), end_date=today + datetime.timedelta(days=29)
    )
    cycle.refresh_from_db()
    add_volume(cycle, n)
    entitlement_services.entitlements_prepare(cycle=cycle, actor=None)
    Cycle.objects.filter(pk=cycle.pk).update(state=CycleState.APPROVED)
    entitlement_services.entitlements_approve(cycle=cycle, actor=None)
    cycle.refresh_from_db()
    return cycle


@pytest.fixture
def redeemer(django_user_model: Any) -> Any:
    return role_user(django_user_model, "shop", ROLE_VOUCHER_REDEEMER)


@pytest.fixture
def inline(settings: Any) -> None:
    settings.G2P_MAX_ROWS_INLINE = 10_000
