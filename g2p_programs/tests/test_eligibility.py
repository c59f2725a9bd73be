"""Eligibility managers: the default domain rule, ID and phone rules, chaining, cycles."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError

from g2p_programs.factories import (
    CycleFactory,
    CycleMembershipFactory,
    ProgramMembershipFactory,
    program_with_managers,
)
from g2p_programs.models import CycleMembership, ManagerAssignment, ProgramMembership
from g2p_programs.program_managers.eligibility import (
    chain_cycle_eligible,
    chain_eligible,
    eligibility_managers,
)
from g2p_registry_base.factories import (
    GroupFactory,
    IndividualFactory,
    PhoneNumberFactory,
    RegistrantIdFactory,
)

pytestmark = pytest.mark.django_db


def _eligible(program) -> set[int]:  # type: ignore[no-untyped-def]
    qs = chain_eligible(eligibility_managers(program), ProgramMembership.objects.all())
    return set(qs.values_list("registrant_id", flat=True))


def test_default_rule_target_kind_registrant_flag_and_domain() -> None:
    program = program_with_managers(
        target_type="individual",
        eligibility=[("default", {"eligibility_domain": "[('birthdate', '<', '1960-01-01')]"})],
    )
    old = IndividualFactory(birthdate=datetime.date(1950, 1, 1))
    young = IndividualFactory(birthdate=datetime.date(1990, 1, 1))
    household = GroupFactory()
    not_registrant = IndividualFactory(birthdate=datetime.date(1950, 1, 1), is_registrant=False)
    for r in (old, young, household, not_registrant):
        ProgramMembershipFactory(program=program, registrant=r)
    other = program_with_managers()
    ProgramMembershipFactory(program=other, registrant=old)
    assert _eligible(program) == {old.pk}


def test_a_bad_domain_is_refused_when_the_manager_is_saved() -> None:
    program = program_with_managers(eligibility=[])
    row = ManagerAssignment(
        program=program,
        kind="eligibility",
        manager_key="default",
        config={"eligibility_domain": "[('__import__', '=', 1)]"},
    )
    with pytest.raises(ValidationError) as err:
        row.save()
    assert "eligibility_domain" in str(err.value)
    with pytest.raises(ValidationError):
        ManagerAssignment(
            program=program,
            kind="eligibility",
            manager_key="default",
            config={"eligibility_domain": "__import__('os').system('true')"},
        ).save()
    assert not ManagerAssignment.objects.filter(kind="eligibility").exists()


def test_id_document_rule_with_types_and_expiry() -> None:
    program = program_with_managers(eligibility=[("id_document", {"id_types": ["National ID"]})])
    valid = RegistrantIdFactory(expiry_date=None).registrant
    future = RegistrantIdFactory(expiry_date=datetime.date.today() + datetime.timedelta(days=1))
    expired = RegistrantIdFactory(expiry_date=datetime.date.today())
    other_type = RegistrantIdFactory(id_type__name="Passport").registrant
    for r in (valid, future.registrant, expired.registrant, other_type):
        ProgramMembershipFactory(program=program, registrant=r)
    assert _eligible(program) == {valid.pk, future.registrant_id}


def test_phone_rule_and_chain_order_is_one_statement(django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    program = program_with_managers(
        eligibility=[
            ("default", {"eligibility_domain": "[('gender', '=', 'Female')]"}),
            "phone_number",
        ],
    )
    with_phone = PhoneNumberFactory(registrant__gender_id="Female").registrant
    man_with_phone = PhoneNumberFactory(registrant__gender_id="Male").registrant
    disabled_phone = PhoneNumberFactory(registrant__gender_id="Female")
    disabled_phone.disabled = datetime.datetime.now(datetime.UTC)
    disabled_phone.save()
    no_phone = IndividualFactory(gender_id="Female")
    for r in (with_phone, man_with_phone, disabled_phone.registrant, no_phone):
        ProgramMembershipFactory(program=program, registrant=r)
    managers = eligibility_managers(program)
    with django_assert_num_queries(1):
        ids = set(
            chain_eligible(managers, ProgramMembership.objects.all()).values_list(
                "registrant_id", flat=True
            )
        )
    assert ids == {with_phone.pk}


def test_cycle_eligibility_is_restricted_to_that_cycle() -> None:
    program = program_with_managers()
    person = IndividualFactory()
    c1, c2 = CycleFactory(program=program), CycleFactory(program=program)
    m1 = CycleMembershipFactory(cycle=c1, registrant=person)
    CycleMembershipFactory(cycle=c2, registrant=person)
    qs = chain_cycle_eligible(eligibility_managers(program), c1, CycleMembership.objects.all())
    assert list(qs) == [m1]
