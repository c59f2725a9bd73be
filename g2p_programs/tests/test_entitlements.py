"""Entitlements: amounts and fees, prepare, approve against the fund, segregation of duties."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from g2p_programs.choices import CycleState, EntitlementState, MembershipState
from g2p_programs.models import Cycle, Entitlement, ManagerAssignment
from g2p_programs.registry import registry
from g2p_programs.services import entitlements as services
from g2p_programs.tests.fixtures_money import *  # noqa: F403
from g2p_programs.tests.fixtures_money import (
    END,
    START,
    add_beneficiaries,
    group_with_members,
    individual,
    make_cycle,
    make_program,
    posted_fund,
)

pytestmark = pytest.mark.django_db


def snapshot(cycle: Cycle) -> list[dict]:
    return list(Entitlement.objects.filter(cycle=cycle).order_by("pk").values())


def prepared(program_config: dict, registrants_factory, **program_fields):
    program = make_program(entitlement=program_config, **program_fields)
    cycle = make_cycle(program)
    add_beneficiaries(cycle, registrants_factory())
    return program, cycle


def test_group_amount_and_percentage_fee(program_manager_user):
    config = {
        "amount_per_cycle": "100.00",
        "amount_per_individual_in_group": "12.50",
        "max_individual_in_group": 3,
        "transfer_fee_pct": "1.5",
    }
    program = make_program(entitlement=config, currency="KES")
    cycle = make_cycle(program)
    big = group_with_members("Big", members=5)
    small = group_with_members("Small", members=2, disabled_members=2, ended=1)
    empty = group_with_members("Empty")
    person = individual("Solo")
    add_beneficiaries(cycle, [big, small, empty, person])

    result = services.entitlements_prepare(cycle=cycle, actor=program_manager_user)

    assert result.data == {"created": 4}
    rows = {e.registrant_id: e for e in Entitlement.objects.filter(cycle=cycle).select_related()}
    assert rows[big.pk].initial_amount == Decimal("137.50")  # 100 + 12.50 × min(5, 3)
    assert rows[small.pk].initial_amount == Decimal("125.00")  # 2 current enabled members
    assert rows[empty.pk].initial_amount == Decimal("100.00")
    assert rows[person.pk].initial_amount == Decimal("100.00")
    assert rows[big.pk].transfer_fee == Decimal("2.06")  # 137.50 × 1.5 % = 2.0625
    assert rows[person.pk].transfer_fee == Decimal("1.50")
    for e in rows.values():
        assert (e.state, e.currency, e.valid_from, e.valid_until, e.program_id, e.ern) == (
            EntitlementState.DRAFT,
            "KES",
            START,
            END,
            program.pk,
            "",
        )
        assert len(e.code) == 21 and e.is_cash_entitlement
    assert len({e.code for e in rows.values()}) == 4
    cycle.refresh_from_db()
    assert cycle.entitlements_prepared_by_id == program_manager_user.pk


def test_no_cap_and_fixed_fee(program_manager_user):
    program, cycle = prepared(
        {
            "amount_per_cycle": "0",
            "amount_per_individual_in_group": "10",
            "max_individual_in_group": 0,
            "transfer_fee_amt": "3.00",
        },
        lambda: [group_with_members("G", members=7)],
    )
    services.entitlements_prepare(cycle=cycle, actor=program_manager_user)
    e = Entitlement.objects.get(cycle=cycle)
    assert (e.initial_amount, e.transfer_fee) == (Decimal("70.00"), Decimal("3.00"))


def test_prepare_skips_unenrolled_disabled_duplicated_and_is_idempotent(program_manager_user):
    program = make_program()
    cycle = make_cycle(program)
    ok, paused, duplicated = individual("Ok"), individual("Paused"), individual("Dup")
    gone = individual("Gone")
    add_beneficiaries(cycle, [ok, gone])
    add_beneficiaries(cycle, [paused], state="paused")
    add_beneficiaries(cycle, [duplicated], program_state=MembershipState.DUPLICATED)
    gone.disabled = timezone.now()
    gone.disabled_reason = "deceased"
    gone.save()

    first = services.entitlements_prepare(cycle=cycle, actor=program_manager_user)
    before = snapshot(cycle)
    second = services.entitlements_prepare(cycle=cycle, actor=program_manager_user)

    assert (first.data["created"], second.data["created"]) == (1, 0)
    assert [row["registrant_id"] for row in before] == [ok.pk]
    assert snapshot(cycle) == before


def test_prepare_refused_outside_draft_and_without_manager(program_manager_user):
    program = make_program()
    cycle = make_cycle(program, state=CycleState.TO_APPROVE)
    add_beneficiaries(cycle, [individual()])
    with pytest.raises(ValidationError) as exc:
        services.entitlements_prepare(cycle=cycle, actor=program_manager_user)
    assert exc.value.messages == ["The Cycle is not in draft mode"]

    bare = make_program(name="Bare", entitlement=False)
    bare_cycle = make_cycle(bare)
    add_beneficiaries(bare_cycle, [individual("B")])
    with pytest.raises(ValidationError) as exc:
        services.entitlements_prepare(cycle=bare_cycle, actor=program_manager_user)
    assert exc.value.messages == ["No Entitlement Manager defined."]
    assert not Entitlement.objects.exists()


@pytest.mark.parametrize("who", ["viewer", "registrar", "validator_user", "finance"])
def test_prepare_requires_permission(who, request):
    actor = request.getfixturevalue(who)
    program = make_program()
    cycle = make_cycle(program)
    add_beneficiaries(cycle, [individual()])
    with pytest.raises(PermissionDenied):
        services.entitlements_prepare(cycle=cycle, actor=actor)
    assert not Entitlement.objects.exists()


def test_config_refuses_both_fees_and_negative_amounts():
    cls = registry.get("entitlement", "default")
    with pytest.raises(ValidationError) as exc:
        cls.validate_config({"transfer_fee_pct": "2", "transfer_fee_amt": "1"})
    assert "transfer_fee_amt" in exc.value.message_dict["config"][0]
    for bad in (
        {"amount_per_cycle": "-1"},
        {"amount_per_individual_in_group": "-0.01"},
        {"max_individual_in_group": -1},
        {"transfer_fee_pct": "100.01"},
        {"transfer_fee_amt": "-5"},
    ):
        with pytest.raises(ValidationError) as exc:
            cls.validate_config(bad)
        assert next(iter(bad)) in exc.value.message_dict["config"][0]
    program = make_program(entitlement=False)
    with pytest.raises(ValidationError):
        ManagerAssignment(
            program=program,
            kind="entitlement",
            manager_key="default",
            config={"transfer_fee_pct": "2", "transfer_fee_amt": "1"},
        ).save()
    assert not ManagerAssignment.objects.filter(program=program).exists()


# --------------------------------------------------------------------------------------------
# Approval
# --------------------------------------------------------------------------------------------


def approved_cycle(n: int, *, amount: str = "100.00", prepared_by=None, **program_fields):
    program = make_program(entitlement={"amount_per_cycle": amount}, **program_fields)
    cycle = make_cycle(program)
    add_beneficiaries(cycle, [individual(f"B{i}") for i in range(n)])
    services.entitlements_prepare(cycle=cycle, actor=None)
    Cycle.objects.filter(pk=cycle.pk).update(
        state=CycleState.APPROVED, entitlements_prepared_by=prepared_by
    )
    cycle.refresh_from_db()
    return program, cycle


def test_approve_within_fund(finance):
    program, cycle = approved_cycle(3)
    posted_fund(program, "300.00")
    Entitlement.objects.filter(cycle=cycle).update(state=EntitlementState.PENDING_VALIDATION)

    result = services.entitlements_approve(cycle=cycle, actor=finance)

    assert (result.type, result.message, result.sticky) == (
        "success",
        "3 Entitlements are successfully approved.",
        True,
    )
    rows = list(Entitlement.objects.filter(cycle=cycle))
    assert {e.state for e in rows} == {EntitlementState.APPROVED}
    assert all(len(e.ern) == 10 and e.ern.isdigit() for e in rows)
    assert {(e.date_approved, e.approved_by_id) for e in rows} == {
        (timezone.localdate(), finance.pk)
    }
    from g2p_programs.services.funds import program_fund_balance

    assert program_fund_balance(program=program) == Decimal("0.00")


def test_insufficient_fund_approves_the_prefix_and_names_the_first_unfunded(finance):
    program, cycle = approved_cycle(4, name="Food Aid")
    posted_fund(program, "250.00")
    first, second, third, fourth = Entitlement.objects.filter(cycle=cycle).order_by("pk")

    result = services.entitlements_approve(cycle=cycle, actor=finance)

    assert result.type == "danger"
    assert result.message == (
        f"The fund for the program: Food Aid [50.00] is insufficient for the entitlement: "
        f"{third.code}"
    )
    states = dict(Entitlement.objects.values_list("pk", "state"))
    assert [states[e.pk] for e in (first, second, third, fourth)] == [
        EntitlementState.APPROVED,
        EntitlementState.APPROVED,
        EntitlementState.DRAFT,
        EntitlementState.DRAFT,
    ]
    # Nothing left that fits: a second run approves nothing and reports the same one.
    again = services.entitlements_approve(cycle=cycle, actor=finance)
    assert again.message.startswith("The fund for the program: Food Aid [50.00]")
    assert again.data["approved"] == 0


def test_previously_approved_amounts_reduce_the_balance(finance):
    program, cycle = approved_cycle(2)
    posted_fund(program, "150.00")
    first = Entitlement.objects.filter(cycle=cycle).order_by("pk").first()
    Entitlement.objects.filter(pk=first.pk).update(state=EntitlementState.APPROVED)
    result = services.entitlements_approve(cycle=cycle, actor=finance)
    assert result.message.startswith("The fund for the program: Cash Transfer [50.00]")


def test_approve_refused_in_unapproved_cycle(finance):
    program, cycle = approved_cycle(1)
    posted_fund(program, "1000")
    Cycle.objects.filter(pk=cycle.pk).update(state=CycleState.TO_APPROVE)
    before = snapshot(cycle)
    with pytest.raises(ValidationError) as exc:
        services.entitlements_approve(cycle=cycle, actor=finance)
    assert exc.value.messages == ["Entitlements can only be approved in an approved cycle."]
    assert snapshot(cycle) == before


def test_segregation_of_duties(django_user_model, finance, finance2):
    program, cycle = approved_cycle(2, prepared_by=finance)
    posted_fund(program, "1000")
    before = snapshot(cycle)
    with pytest.raises(ValidationError) as exc:
        services.entitlements_approve(cycle=cycle, actor=finance)
    assert exc.value.messages == [
        "The user who prepared the entitlements of this cycle cannot approve them."
    ]
    ids = [row["id"] for row in before]
    with pytest.raises(ValidationError):
        services.entitlement_approve_selected(entitlement_ids=ids, actor=finance)
    assert snapshot(cycle) == before

    result = services.entitlements_approve(cycle=cycle, actor=finance2)
    assert result.data["approved"] == 2

    relaxed, relaxed_cycle = approved_cycle(
        1, prepared_by=finance, name="Relaxed", separation_of_duties=False
    )
    posted_fund(relaxed, "100", name="PF-TEST-000002")
    assert services.entitlements_approve(cycle=relaxed_cycle, actor=finance).data["approved"] == 1


@pytest.mark.parametrize("who", ["viewer", "registrar", "validator_user", "program_manager_user"])
def test_approve_requires_approve_entitlement_permission(who, request):
    actor = request.getfixturevalue(who)
    program, cycle = approved_cycle(1)
    posted_fund(program, "1000")
    before = snapshot(cycle)
    with pytest.raises(PermissionDenied):
        services.entitlements_approve(cycle=cycle, actor=actor)
    with pytest.raises(PermissionDenied):
        services.entitlement_approve_selected(entitlement_ids=[before[0]["id"]], actor=actor)
    assert snapshot(cycle) == before


def test_approve_selected_reports_state_errors_and_approves_the_rest(finance):
    program, cycle = approved_cycle(3, name="Relief")
    posted_fund(program, "1000")
    a, b, c = Entitlement.objects.filter(cycle=cycle).order_by("pk").select_related("registrant")
    Entitlement.objects.filter(pk=c.pk).update(state=EntitlementState.CANCELLED)

    result = services.entitlement_approve_selected(entitlement_ids=[a.pk, c.pk], actor=finance)

    assert result.type == "danger"
    assert result.message == (
        "Entitlement State Error! Entitlements not in 'pending validation' state:\n"
        f"Program: Relief, Beneficiary: {c.registrant.name}.\n"
    )
    states = dict(Entitlement.objects.values_list("pk", "state"))
    assert (states[a.pk], states[b.pk], states[c.pk]) == (
        EntitlementState.APPROVED,
        EntitlementState.DRAFT,
        EntitlementState.CANCELLED,
    )


def test_approve_selected_refuses_several_programs(finance):
    p1, c1 = approved_cycle(1)
    p2, c2 = approved_cycle(1, name="Second")
    ids = list(Entitlement.objects.values_list("pk", flat=True))
    with pytest.raises(ValidationError) as exc:
        services.entitlement_approve_selected(entitlement_ids=ids, actor=finance)
    assert exc.value.messages == [
        "You can approve any number of entitlement cycles only from a specific program at a time"
    ]
    assert set(Entitlement.objects.values_list("state", flat=True)) == {EntitlementState.DRAFT}


def test_set_pending_and_cancel(admin_user):
    program, cycle = approved_cycle(3)
    a, b, c = Entitlement.objects.filter(cycle=cycle).order_by("pk")
    Entitlement.objects.filter(pk=c.pk).update(state=EntitlementState.EXPIRED)
    assert services.entitlements_set_pending(cycle=cycle, actor=admin_user) == 2
    Entitlement.objects.filter(pk=a.pk).update(state=EntitlementState.APPROVED, ern="0123456789")
    result = services.entitlements_cancel(cycle=cycle, actor=admin_user)
    assert (result.message, result.data) == ("Entitlements Cancelled.", {"cancelled": 2})
    rows = dict(Entitlement.objects.values_list("pk", "state"))
    assert rows == {
        a.pk: EntitlementState.CANCELLED,
        b.pk: EntitlementState.CANCELLED,
        c.pk: EntitlementState.EXPIRED,
    }
    assert Entitlement.objects.get(pk=a.pk).ern == ""
