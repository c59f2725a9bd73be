"""Fixtures of the payment files tests: a program paying through the file manager."""

from __future__ import annotations

from typing import Any

import pytest

from g2p_payment_files.models import PaymentFileConfig
from g2p_programs.choices import CycleState, ManagerKind
from g2p_programs.models import Cycle, ManagerAssignment
from g2p_programs.services import entitlements as entitlement_services
from g2p_programs.services import payments as payment_services
from g2p_programs.tests.fixtures_money import *  # noqa: F403
from g2p_programs.tests.fixtures_money import make_cycle, make_program, posted_fund

COLUMNS = [
    {"header": "Reference", "expression": "payment.name"},
    {"header": "Beneficiary", "expression": "beneficiary.family_name|upper"},
    {"header": "Account", "expression": "bank_account.acc_number"},
    {"header": "Holder", "expression": 'bank_account.acc_holder_name|default:"-"'},
    {"header": "Amount", "expression": "payment.amount_issued|amount"},
    {"header": "Currency", "expression": "payment.currency"},
    {"header": "Date", "expression": 'payment.issuance_date|date:"%Y-%m-%d"'},
]


def file_config(name: str, file_format: str, *, qr: str = "") -> PaymentFileConfig:
    config = PaymentFileConfig(
        name=name, file_format=file_format, columns=COLUMNS, qr_expression=qr
    )
    config.full_clean()
    config.save()
    return config


def file_program(name: str, *, config: dict[str, Any]) -> Cycle:
    """An approved cycle of a program with the default entitlement manager (100.00 each)
    and the file payment manager configured with ``config``; no beneficiaries yet."""
    program = make_program(name=name)
    ManagerAssignment(
        program=program, kind=ManagerKind.PAYMENT, manager_key="file", config=config
    ).save()
    posted_fund(program, "100000000.00", name=f"PF-{name[:20]}")
    return make_cycle(program)


def approve_and_prepare(cycle: Cycle) -> Any:
    entitlement_services.entitlements_prepare(cycle=cycle, actor=None)
    Cycle.objects.filter(pk=cycle.pk).update(state=CycleState.APPROVED)
    entitlement_services.entitlements_approve(cycle=cycle, actor=None)
    return payment_services.payments_prepare(cycle=cycle, actor=None)


@pytest.fixture
def inline(settings: Any) -> None:
    settings.G2P_MAX_ROWS_INLINE = 10_000
