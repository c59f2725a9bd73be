"""A group program through its whole lifecycle with the default managers.

Registry -> program with default managers -> add registrants -> enrol (domain) -> deduplicate ->
fund -> cycle -> prepare entitlements -> submit -> approve cycle -> approve entitlements against
the fund -> prepare payments in batches -> send -> distributed -> ended; each step by the role
that does it in a real office, with every state and amount checked.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from g2p_programs.choices import ManagerKind
from g2p_programs.models import (
    Entitlement,
    ManagerAssignment,
    Payment,
    PaymentBatch,
    PaymentBatchTag,
)
from g2p_programs.roles import ROLE_CYCLE_APPROVER, ROLE_FINANCE_VALIDATOR, ROLE_PROGRAM_MANAGER
from g2p_programs.selectors import memberships_count_by_state
from g2p_programs.services import cycles, entitlements, funds, payments, programs
from g2p_registry_base.factories import GroupFactory, IndividualFactory, RegistrantTagFactory
from g2p_registry_base.models import GroupMembership, MembershipKind

pytestmark = pytest.mark.django_db


def _user(django_user_model, name: str, role: str):  # type: ignore[no-untyped-def]
    user = django_user_model.objects.create_user(name, password=f"{name}-pass-123", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


def _household(name: str, size: int, *, shared=None, tags=()):  # type: ignore[no-untyped-def]
    group = GroupFactory(name=name)
    group.tags.set(tags)
    head = MembershipKind.objects.get(name="Head")
    people = IndividualFactory.create_batch(size)
    for index, person in enumerate(people):
        membership = GroupMembership(group=group, individual=person)
        membership.save()
        if index == 0:
            membership.kinds.add(head)
    if shared is not None:
        GroupMembership(group=group, individual=shared).save()
    return group, people


def _state(obj) -> str:  # type: ignore[no-untyped-def]
    return type(obj).objects.get(pk=obj.pk).state


def test_group_program_lifecycle(django_user_model) -> None:
    manager = _user(django_user_model, "pm", ROLE_PROGRAM_MANAGER)
    approver = _user(django_user_model, "approver", ROLE_CYCLE_APPROVER)
    finance = _user(django_user_model, "finance", ROLE_FINANCE_VALIDATOR)
    urban = RegistrantTagFactory(name="Urban")

    hh1, hh1_people = _household("Otieno", 2)
    hh2, _ = _household("Wanjiru", 3)
    hh3, _ = _household("Kamau", 1)
    hh4, _ = _household("Mwangi", 2, tags=[urban])
    hh5, _ = _household("Achieng", 1, shared=hh1_people[1])  # one person in two households

    # Program with its default managers, configured as the create-program wizard would.
    program = programs.program_create(
        name="Household support",
        target_type="group",
        currency="KES",
        eligibility_domain="[('tags_ids.name', '!=', 'Urban')]",
        actor=manager,
    )
    kinds = dict(
        ManagerAssignment.objects.filter(program=program).values_list("kind", "manager_key")
    )
    assert kinds == {
        "program": "default",
        "eligibility": "default",
        "deduplication": "default",
        "notification": "log",
        "cycle": "default",
        "entitlement": "default",
        "payment": "default",
    }
    tag = PaymentBatchTag(name="Default Household support", order=1, domain="[]", max_batch_size=2)
    tag.save()
    configure = {
        ManagerKind.ENTITLEMENT: {
            "amount_per_cycle": "100.00",
            "amount_per_individual_in_group": "50.00",
            "max_individual_in_group": 2,
            "transfer_fee_amt": "5.00",
        },
        ManagerKind.CYCLE: {"recurrence": {"rrule_type": "daily", "cycle_duration": 30}},
        ManagerKind.PAYMENT: {"create_batch": True, "batch_tag_ids": [tag.pk]},
    }
    for kind, config in configure.items():
        assignment = ManagerAssignment.objects.get(program=program, kind=kind)
        programs.manager_configure(assignment=assignment, config=config, actor=manager)

    # Add, enrol, deduplicate.
    added = programs.program_add_registrants(
        program=program, registrant_ids=[g.pk for g in (hh1, hh2, hh3, hh4, hh5)], actor=manager
    )
    assert added.message == "Total registrants:5, Already in program:0, Newly added:5"
    enrolled = programs.program_enroll_eligible(program=program, actor=manager)
    assert enrolled.message == "Enrolled Beneficiaries: 4 successfully and 1 unsuccessfully."
    dedup = programs.program_deduplicate(program=program, actor=manager)
    assert (dedup.title, dedup.message) == (
        "Deduplication",
        "2 Instances of Beneficiaries duplicate.",
    )
    counts = memberships_count_by_state(program=program)
    assert (counts["enrolled"], counts["not_eligible"], counts["duplicated"], counts["total"]) == (
        2,
        1,
        2,
        5,
    )

    # Fund the program.
    fund = funds.fund_create(program=program, amount=Decimal("1000.00"), actor=finance)
    funds.fund_post(fund=fund, actor=finance)
    fund.refresh_from_db()
    assert (fund.state, fund.name) == ("posted", f"PF-{timezone.localdate().year}-000001")

    # Cycle with the two enrolled households.
    cycle, note = cycles.program_create_new_cycle(program=program, actor=manager)
    assert note.message == "New cycle Cycle 1 created."
    assert (cycle.start_date, cycle.end_date) == (
        timezone.localdate(),
        timezone.localdate() + datetime.timedelta(days=29),
    )
    assert set(cycle.memberships.values_list("registrant_id", "state")) == {
        (hh2.pk, "enrolled"),
        (hh3.pk, "enrolled"),
    }

    # Entitlements: 100 + 50 x min(members, 2), fee 5.
    entitlements.entitlements_prepare(cycle=cycle, actor=manager)
    amounts = dict(
        Entitlement.objects.filter(cycle=cycle).values_list("registrant_id", "initial_amount")
    )
    assert amounts == {hh2.pk: Decimal("200.00"), hh3.pk: Decimal("150.00")}
    assert set(
        Entitlement.objects.filter(cycle=cycle).values_list(
            "transfer_fee", "state", "valid_from", "valid_until"
        )
    ) == {(Decimal("5.00"), "draft", cycle.start_date, cycle.end_date)}

    cycles.cycle_to_approve(cycle=cycle, actor=manager)
    assert _state(cycle) == "to_approve"
    assert set(Entitlement.objects.filter(cycle=cycle).values_list("state", flat=True)) == {
        "pending_validation"
    }
    cycles.cycle_approve(cycle=cycle, actor=approver)
    assert _state(cycle) == "approved"

    approved = entitlements.entitlements_approve(cycle=cycle, actor=finance)
    assert approved.message == "2 Entitlements are successfully approved."
    assert set(Entitlement.objects.filter(cycle=cycle).values_list("state", "approved_by")) == {
        ("approved", finance.pk)
    }
    assert all(
        len(ern) == 10
        for ern in Entitlement.objects.filter(cycle=cycle).values_list("ern", flat=True)
    )
    assert funds.program_fund_balance(program=program) == Decimal("650.00")

    # Payments in one batch of at most two, then sent.
    prepared = payments.payments_prepare(cycle=cycle, actor=finance)
    assert prepared.message == "Payment batch successfully created for 2 beneficiaries."
    assert PaymentBatch.objects.filter(cycle=cycle).count() == 1
    issued = set(
        Payment.objects.filter(cycle=cycle).values_list("amount_issued", "payment_fee", "state")
    )
    assert issued == {
        (Decimal("200.00"), Decimal("5.00"), "issued"),
        (Decimal("150.00"), Decimal("5.00"), "issued"),
    }
    again = payments.payments_prepare(cycle=cycle, actor=finance)
    assert again.message == "There are no new payments issued!"
    assert Payment.objects.filter(cycle=cycle).count() == 2

    sent = payments.payments_send(cycle=cycle, actor=finance)
    assert sent.message == "Send payments completed."
    assert set(Payment.objects.filter(cycle=cycle).values_list("state", flat=True)) == {"sent"}
    assert PaymentBatch.objects.get(cycle=cycle).batch_has_started is True

    cycles.cycle_mark_distributed(cycle=cycle, actor=manager)
    cycles.cycle_mark_ended(cycle=cycle, actor=manager)
    assert _state(cycle) == "ended"

    # The next cycle starts the day after and takes the households enrolled by then.
    second, _ = cycles.program_create_new_cycle(program=program, actor=manager)
    assert second.start_date == cycle.end_date + datetime.timedelta(days=1)
    assert second.memberships.count() == 2
