"""Test data for entitlements, funds and payments, made with the ORM (small) or
``INSERT … SELECT generate_series`` (volume). Import the fixtures into a test module with
``from g2p_programs.tests.fixtures_money import *  # noqa: F403``."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from g2p_programs.choices import (
    CycleMembershipState,
    CycleState,
    FundState,
    ManagerKind,
    MembershipState,
)
from g2p_programs.models import (
    Cycle,
    CycleMembership,
    ManagerAssignment,
    Program,
    ProgramFund,
    ProgramMembership,
)
from g2p_programs.roles import (
    ROLE_FINANCE_VALIDATOR,
    ROLE_PROGRAM_MANAGER,
    ROLE_PROGRAM_VALIDATOR,
)
from g2p_registry_base.models import Bank, BankAccount, GroupMembership, Registrant

START = datetime.date(2025, 1, 1)
END = datetime.date(2025, 1, 31)

__all__ = [
    "END",
    "START",
    "add_beneficiaries",
    "add_volume",
    "bank_account",
    "finance",
    "finance2",
    "group_with_members",
    "individual",
    "make_cycle",
    "make_program",
    "posted_fund",
    "program_manager_user",
    "role_user",
    "validator_user",
]


def role_user(django_user_model: Any, username: str, role: str) -> Any:
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(username, f"{username}@example.org", "x-pass-123")
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def finance(django_user_model: Any) -> Any:
    return role_user(django_user_model, "finance", ROLE_FINANCE_VALIDATOR)


@pytest.fixture
def finance2(django_user_model: Any) -> Any:
    return role_user(django_user_model, "finance2", ROLE_FINANCE_VALIDATOR)


@pytest.fixture
def program_manager_user(django_user_model: Any) -> Any:
    return role_user(django_user_model, "pm", ROLE_PROGRAM_MANAGER)


@pytest.fixture
def validator_user(django_user_model: Any) -> Any:
    return role_user(django_user_model, "validator", ROLE_PROGRAM_VALIDATOR)


def make_program(
    *,
    name: str = "Cash Transfer",
    entitlement: dict[str, Any] | None = None,
    payment: dict[str, Any] | None = None,
    **fields: Any,
) -> Program:
    """A program with a default entitlement manager (unless ``entitlement`` is ``{}``…``None``
    means the defaults below) and, when ``payment`` is given, a default payment manager."""
    program = Program(name=name, **fields)
    program.save()
    if entitlement is None:
        entitlement = {"amount_per_cycle": "100.00"}
    if entitlement is not False:  # type: ignore[comparison-overlap]
        ManagerAssignment(
            program=program,
            kind=ManagerKind.ENTITLEMENT,
            manager_key="default",
            config=entitlement,
        ).save()
    if payment is not None:
        ManagerAssignment(
            program=program, kind=ManagerKind.PAYMENT, manager_key="default", config=payment
        ).save()
    return program


def make_cycle(program: Program, *, sequence: int = 1, state: str = CycleState.DRAFT) -> Cycle:
    cycle = Cycle(
        program=program,
        name=f"Cycle {sequence}",
        sequence=sequence,
        start_date=START,
        end_date=END,
        state=state,
    )
    cycle.save()
    return cycle


def individual(name: str = "Ann", **fields: Any) -> Registrant:
    reg = Registrant(is_group=False, given_name=name, family_name="Doe", **fields)
    reg.save()
    return reg


def group_with_members(
    name: str = "Household", *, members: int = 0, disabled_members: int = 0, ended: int = 0
) -> Registrant:
    """A group with current members, disabled members and ended memberships."""
    from django.utils import timezone

    group = Registrant(is_group=True, name=name)
    group.save()
    past = timezone.now() - datetime.timedelta(days=3)
    for i in range(members + disabled_members + ended):
        person = Registrant(is_group=False, given_name=f"{name} {i}", family_name="Member")
        if members <= i < members + disabled_members:
            person.disabled = timezone.now()
            person.disabled_reason = "moved"
        person.save()
        membership = GroupMembership(group=group, individual=person)
        if i >= members + disabled_members:
            membership.start_date = past - datetime.timedelta(days=10)
            membership.ended_date = past
        membership.save()
    return group


def add_beneficiaries(
    cycle: Cycle,
    registrants: list[Registrant],
    *,
    state: str = CycleMembershipState.ENROLLED,
    program_state: str = MembershipState.ENROLLED,
) -> None:
    from django.utils import timezone

    for reg in registrants:
        ProgramMembership(
            registrant=reg,
            program=cycle.program,
            state=program_state,
            enrollment_date=timezone.now() if program_state == MembershipState.ENROLLED else None,
        ).save()
        CycleMembership.objects.create(registrant=reg, cycle=cycle, state=state)


def add_volume(cycle: Cycle, n: int) -> None:
    """``n`` enrolled individual beneficiaries of ``cycle`` (each with one bank account), made
    with ``INSERT … SELECT generate_series`` — three statements whatever ``n``."""
    bank, _ = Bank.objects.get_or_create(name="Volume Bank")
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH new AS (
              INSERT INTO g2p_registry_base_registrant
                (is_registrant, is_group, name, given_name, family_name, addl_name, birth_place,
                 birthdate_not_exact, address, email, civil_status, occupation, is_partial_group,
                 additional_g2p_info, company_id, active, disabled_reason, create_date,
                 write_date)
              SELECT true, false, 'VOLUME ' || g, 'V' || g, 'Volume', '', '', false, '', '', '',
                     '', false, '{}'::jsonb, %(company)s, true, '', now(), now()
                FROM generate_series(1, %(n)s) g
              RETURNING id
            ), pm AS (
              INSERT INTO g2p_programs_programmembership
                (registrant_id, program_id, state, enrollment_date, create_date, write_date)
              SELECT id, %(program)s, 'enrolled', now(), now(), now() FROM new RETURNING 1
            ), acct AS (
              INSERT INTO g2p_registry_base_bankaccount
                (registrant_id, bank_id, acc_number, acc_holder_name)
              SELECT id, %(bank)s, 'ACC' || id, '' FROM new RETURNING 1
            )
            INSERT INTO g2p_programs_cyclemembership
              (registrant_id, cycle_id, state, enrollment_date)
            SELECT id, %(cycle)s, 'enrolled', CURRENT_DATE FROM new
            """,
            {
                "n": n,
                "company": cycle.program.company_id,
                "program": cycle.program_id,
                "cycle": cycle.pk,
                "bank": bank.pk,
            },
        )


def bank_account(registrant: Registrant, number: str) -> BankAccount:
    bank, _ = Bank.objects.get_or_create(name="Test Bank")
    account = BankAccount(registrant=registrant, bank=bank, acc_number=number)
    account.save()
    return account


def posted_fund(program: Program, amount: str, name: str = "PF-TEST-000001") -> ProgramFund:
    """A posted fund entry written directly (the posting service is tested on its own)."""
    fund = ProgramFund(program=program, amount=Decimal(amount), state=FundState.POSTED, name=name)
    fund.save()
    return fund
