"""The manager registry, manager assignments and the database rules of program records."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from g2p_programs.choices import ManagerKind, PaymentStatus
from g2p_programs.models import (
    Cycle,
    CycleMembership,
    Entitlement,
    ManagerAssignment,
    Payment,
    Program,
    ProgramFund,
    ProgramMembership,
)
from g2p_programs.registry import BaseManager, ManagerConfig, ManagerRegistry, registry
from g2p_registry_base.factories import IndividualFactory

pytestmark = pytest.mark.django_db


class _SampleConfig(ManagerConfig):
    threshold: int = 3


class SampleNotificationManager(BaseManager):
    key = "sample"
    kind = ManagerKind.NOTIFICATION
    label = "Sample"
    Config = _SampleConfig


def _program(name: str = "Program A") -> Program:
    program = Program(name=name, target_type="individual", currency="KES")
    program.save()
    return program


def _cycle(program: Program, sequence: int = 1) -> Cycle:
    cycle = Cycle(
        program=program,
        name=f"Cycle {sequence}",
        sequence=sequence,
        start_date=datetime.date(2026, 1, 1),
        end_date=datetime.date(2026, 1, 31),
    )
    cycle.save()
    return cycle


# --- registry ----------------------------------------------------------------------------------


def test_registry_is_frozen_after_start_up() -> None:
    with pytest.raises(RuntimeError, match="frozen"):
        registry.register(SampleNotificationManager)
    assert "sample" not in registry.keys(ManagerKind.NOTIFICATION)


def test_registry_refuses_a_second_class_under_the_same_key() -> None:
    local = ManagerRegistry()
    local.register(SampleNotificationManager)

    class Other(SampleNotificationManager):
        pass

    with pytest.raises(ValueError, match="already used by SampleNotificationManager"):
        local.register(Other)


def test_registry_refuses_incomplete_classes() -> None:
    class Nameless(BaseManager):
        kind = ManagerKind.NOTIFICATION
        label = "No key"

    with pytest.raises(TypeError, match="must define 'key'"):
        ManagerRegistry().register(Nameless)


def test_default_cycle_manager_is_registered() -> None:
    assert "default" in registry.keys(ManagerKind.CYCLE)
    assert ("default", "Default") in registry.choices(ManagerKind.CYCLE)


# --- assignments -------------------------------------------------------------------------------


def test_assignment_validates_and_normalises_its_config() -> None:
    program = _program()
    with registry.temporarily(SampleNotificationManager):
        assignment = ManagerAssignment(
            program=program, kind=ManagerKind.NOTIFICATION, manager_key="sample"
        )
        assignment.save()
        assert assignment.config == {"threshold": 3}
        assert assignment.instance().config.threshold == 3

        bad = ManagerAssignment(
            program=program,
            kind=ManagerKind.NOTIFICATION,
            manager_key="sample",
            config={"threshold": "x"},
        )
        with pytest.raises(ValidationError) as exc:
            bad.save()
        assert exc.value.message_dict["config"][0].startswith("threshold: ")

        unknown = ManagerAssignment(
            program=program,
            kind=ManagerKind.NOTIFICATION,
            manager_key="sample",
            config={"colour": "red"},
        )
        with pytest.raises(ValidationError) as exc:
            unknown.save()
        assert exc.value.message_dict["config"] == ["colour: Extra inputs are not permitted"]
    assert ManagerAssignment.objects.filter(program=program).count() == 1


def test_assignment_with_an_unknown_manager_is_refused() -> None:
    program = _program()
    with pytest.raises(ValidationError) as exc:
        ManagerAssignment(program=program, kind=ManagerKind.CYCLE, manager_key="nope").save()
    assert exc.value.message_dict == {"manager_key": ["Unknown cycle manager 'nope'."]}
    assert not ManagerAssignment.objects.exists()


def test_one_active_cycle_manager_per_program_in_the_database() -> None:
    program = _program()
    ManagerAssignment(program=program, kind=ManagerKind.CYCLE, manager_key="default").save()
    second = ManagerAssignment(program=program, kind=ManagerKind.CYCLE, manager_key="default")
    with pytest.raises(ValidationError) as exc:
        second.save()
    assert exc.value.messages == [
        "Only one manager can be configured under this list. "
        "Please delete any new manager(s) before saving your changes."
    ]
    with pytest.raises(IntegrityError), transaction.atomic():
        ManagerAssignment.objects.bulk_create(
            [ManagerAssignment(program=program, kind=ManagerKind.CYCLE, manager_key="default")]
        )
    # An inactive one may be kept beside the active one.
    ManagerAssignment(
        program=program, kind=ManagerKind.CYCLE, manager_key="default", active=False
    ).save()
    assert ManagerAssignment.objects.filter(program=program, kind=ManagerKind.CYCLE).count() == 2


def test_many_notification_managers_are_allowed() -> None:
    program = _program()
    with registry.temporarily(SampleNotificationManager):
        for n in range(2):
            ManagerAssignment(
                program=program, kind=ManagerKind.NOTIFICATION, manager_key="sample", name=f"N{n}"
            ).save()
    assert ManagerAssignment.objects.filter(program=program).count() == 2


# --- program records ---------------------------------------------------------------------------


def test_program_names_are_unique_per_company_case_insensitively() -> None:
    _program("Cash Transfer")
    with pytest.raises(ValidationError) as exc:
        _program("cash transfer")
    assert exc.value.messages == ["A program with this name already exists."]
    assert Program.objects.count() == 1


def test_program_currency_must_be_iso() -> None:
    with pytest.raises(ValidationError) as exc:
        Program(name="X", currency="ksh").save()
    assert exc.value.message_dict == {"currency": ["Use a three-letter ISO 4217 code, e.g. KES."]}


def test_one_membership_per_registrant_and_program() -> None:
    program = _program()
    person = IndividualFactory()
    ProgramMembership(program=program, registrant=person).save()
    with pytest.raises(ValidationError) as exc:
        ProgramMembership(program=program, registrant=person).save()
    assert exc.value.messages == ["Beneficiary must be unique per program."]
    assert ProgramMembership.objects.count() == 1


def test_cycle_names_unique_per_program_and_dates_ordered() -> None:
    program = _program()
    _cycle(program)
    with pytest.raises(ValidationError) as exc:
        Cycle(
            program=program,
            name="Cycle 1",
            sequence=2,
            start_date=datetime.date(2026, 2, 1),
            end_date=datetime.date(2026, 2, 28),
        ).save()
    assert exc.value.messages == [
        "Cycle with this name already exists.Please choose a different name."
    ]
    with pytest.raises(ValidationError) as exc:
        Cycle(
            program=program,
            name="Cycle 9",
            sequence=9,
            start_date=datetime.date(2026, 2, 1),
            end_date=datetime.date(2026, 1, 1),
        ).save()
    assert exc.value.messages == ["The end date cannot be before the start date."]
    assert Cycle.objects.count() == 1


def test_entitlement_program_must_be_its_cycles_program() -> None:
    cycle = _cycle(_program("A"))
    other = _program("B")
    person = IndividualFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Entitlement.objects.bulk_create(
            [
                Entitlement(
                    registrant=person, cycle=cycle, program=other, initial_amount=Decimal("5")
                )
            ]
        )
        # The composite foreign key is checked at commit (deferred); force the check now.
        with transaction.get_connection().cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    assert Entitlement.objects.count() == 0


def test_one_entitlement_per_registrant_and_cycle_and_validity_ordered() -> None:
    cycle = _cycle(_program())
    person = IndividualFactory()
    Entitlement(
        registrant=person, cycle=cycle, program=cycle.program, initial_amount=Decimal("10")
    ).save()
    with pytest.raises(ValidationError):
        Entitlement(
            registrant=person, cycle=cycle, program=cycle.program, initial_amount=Decimal("10")
        ).save()
    other = IndividualFactory()
    with pytest.raises(ValidationError) as exc:
        Entitlement(
            registrant=other,
            cycle=cycle,
            program=cycle.program,
            initial_amount=Decimal("10"),
            valid_from=datetime.date(2026, 2, 1),
            valid_until=datetime.date(2026, 1, 1),
        ).save()
    assert exc.value.messages == [
        'The "Valid Until" date cannot be earlier than the "Valid From" date.'
    ]
    assert Entitlement.objects.count() == 1


def test_one_live_payment_per_entitlement_but_a_failed_one_can_be_reissued() -> None:
    cycle = _cycle(_program())
    person = IndividualFactory()
    entitlement = Entitlement(
        registrant=person, cycle=cycle, program=cycle.program, initial_amount=Decimal("10")
    )
    entitlement.save()
    first = Payment.objects.create(
        entitlement=entitlement, cycle=cycle, amount_issued=Decimal("10")
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.create(entitlement=entitlement, cycle=cycle, amount_issued=Decimal("10"))
    Payment.objects.filter(pk=first.pk).update(status=PaymentStatus.FAILED)
    Payment.objects.create(entitlement=entitlement, cycle=cycle, amount_issued=Decimal("10"))
    assert Payment.objects.filter(entitlement=entitlement).count() == 2


def test_cycle_membership_unique_per_cycle() -> None:
    cycle = _cycle(_program())
    person = IndividualFactory()
    CycleMembership.objects.create(cycle=cycle, registrant=person)
    with pytest.raises(IntegrityError), transaction.atomic():
        CycleMembership.objects.create(cycle=cycle, registrant=person)
    assert CycleMembership.objects.count() == 1


def test_fund_amount_positive_and_posted_needs_a_reference() -> None:
    program = _program()
    with pytest.raises(ValidationError) as exc:
        ProgramFund(program=program, amount=Decimal("0")).save()
    assert exc.value.messages == ["The amount must be greater than zero."]
    fund = ProgramFund(program=program, amount=Decimal("1000"))
    fund.save()
    with pytest.raises(IntegrityError), transaction.atomic():
        ProgramFund.objects.filter(pk=fund.pk).update(state="posted")
    assert ProgramFund.objects.get(pk=fund.pk).state == "draft"
