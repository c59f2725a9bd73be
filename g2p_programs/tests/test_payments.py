"""Payments: preparation by batch tags, batch sizes, account numbers, sending, refusals."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from g2p_programs.choices import CycleState, EntitlementState, PaymentState, PaymentStatus
from g2p_programs.models import (
    Cycle,
    Entitlement,
    ManagerAssignment,
    Payment,
    PaymentBatch,
    PaymentBatchTag,
)
from g2p_programs.registry import registry
from g2p_programs.services import entitlements as entitlement_services
from g2p_programs.services import payments as services
from g2p_programs.tests.fixtures_money import *  # noqa: F403
from g2p_programs.tests.fixtures_money import (
    add_beneficiaries,
    bank_account,
    individual,
    make_cycle,
    make_program,
)

pytestmark = pytest.mark.django_db


def tag(name: str, order: int, domain: str = "[]", size: int = 500) -> PaymentBatchTag:
    t = PaymentBatchTag(name=name, order=order, domain=domain, max_batch_size=size)
    t.save()
    return t


def approved_entitlements(people, *, payment: dict, amount: str = "50.00", fee: str = "0"):
    program = make_program(
        entitlement={"amount_per_cycle": amount, "transfer_fee_amt": fee}, payment=payment
    )
    cycle = make_cycle(program)
    add_beneficiaries(cycle, people)
    entitlement_services.entitlements_prepare(cycle=cycle, actor=None)
    Entitlement.objects.filter(cycle=cycle).update(state=EntitlementState.APPROVED)
    Cycle.objects.filter(pk=cycle.pk).update(state=CycleState.APPROVED)
    cycle.refresh_from_db()
    return program, cycle


def payments_of(cycle):
    return list(Payment.objects.filter(cycle=cycle).order_by("entitlement_id").values())


def test_prepare_payments_by_tags_in_batches(finance):
    women = tag("Women", 1, "[('partner_id.gender', '=', 'Female')]", size=2)
    rest = tag("Rest", 2)
    people = [individual(f"W{i}", gender_id="Female") for i in range(5)]
    people += [individual(f"M{i}", gender_id="Male") for i in range(3)]
    bank_account(people[0], "ACC-0002")
    bank_account(people[0], "ACC-0001")
    program, cycle = approved_entitlements(
        people,
        payment={"create_batch": True, "batch_tag_ids": [rest.pk, women.pk]},
        amount="50.00",
        fee="1.25",
    )

    result = services.payments_prepare(cycle=cycle, actor=finance)

    assert (result.type, result.message) == (
        "success",
        "Payment batch successfully created for 8 beneficiaries.",
    )
    assert result.data == {"payments": 8, "batches": 4}
    batches = list(PaymentBatch.objects.filter(cycle=cycle).order_by("pk"))
    sizes = {b.pk: b.payments.count() for b in batches}
    assert sorted((b.tag_id, sizes[b.pk]) for b in batches) == sorted(
        [(women.pk, 2), (women.pk, 2), (women.pk, 1), (rest.pk, 3)]
    )
    by_person = {
        p.entitlement.registrant_id: p
        for p in Payment.objects.select_related("entitlement", "batch")
    }
    assert {by_person[w.pk].batch.tag_id for w in people[:5]} == {women.pk}
    assert {by_person[m.pk].batch.tag_id for m in people[5:]} == {rest.pk}
    first = by_person[people[0].pk]
    assert (first.amount_issued, first.payment_fee, first.state, first.status) == (
        Decimal("50.00"),
        Decimal("1.25"),
        PaymentState.ISSUED,
        "",
    )
    assert first.account_number == "ACC-0002"  # the first account recorded
    assert by_person[people[1].pk].account_number == ""
    assert len({p.name for p in by_person.values()}) == 8

    before = payments_of(cycle)
    again = services.payments_prepare(cycle=cycle, actor=finance)
    assert (again.type, again.message) == ("danger", "There are no new payments issued!")
    assert payments_of(cycle) == before
    assert PaymentBatch.objects.filter(cycle=cycle).count() == 4


def test_failed_payment_is_issued_again(finance):
    everyone = tag("All", 1)
    program, cycle = approved_entitlements(
        [individual("A")], payment={"create_batch": True, "batch_tag_ids": [everyone.pk]}
    )
    services.payments_prepare(cycle=cycle, actor=finance)
    Payment.objects.update(status=PaymentStatus.FAILED)
    result = services.payments_prepare(cycle=cycle, actor=finance)
    assert result.data["payments"] == 1
    assert sorted(Payment.objects.values_list("status", flat=True)) == ["", "failed"]


def test_without_tags_nothing_is_created_like_upstream(finance):
    program, cycle = approved_entitlements([individual("A")], payment={})
    result = services.payments_prepare(cycle=cycle, actor=finance)
    assert (result.type, result.message) == ("danger", "There are no new payments issued!")
    assert not Payment.objects.exists()


def test_unbatched_payments_when_create_batch_is_off(finance):
    everyone = tag("All", 1)
    program, cycle = approved_entitlements(
        [individual("A"), individual("B")],
        payment={"create_batch": False, "batch_tag_ids": [everyone.pk]},
    )
    result = services.payments_prepare(cycle=cycle, actor=finance)
    assert result.data == {"payments": 2, "batches": 0}
    assert set(Payment.objects.values_list("batch_id", flat=True)) == {None}


def test_prepare_refusals(finance):
    everyone = tag("All", 1)
    program, cycle = approved_entitlements(
        [individual("A")], payment={"create_batch": True, "batch_tag_ids": [everyone.pk]}
    )
    Entitlement.objects.update(state=EntitlementState.PENDING_VALIDATION)
    result = services.payments_prepare(cycle=cycle, actor=finance)
    assert (result.type, result.message) == (
        "danger",
        "All entitlements selected are not approved!",
    )

    Cycle.objects.filter(pk=cycle.pk).update(state=CycleState.TO_APPROVE)
    with pytest.raises(ValidationError) as exc:
        services.payments_prepare(cycle=cycle, actor=finance)
    assert exc.value.messages == ["Payments can only be prepared for an approved cycle."]

    bare = make_program(name="No payments")
    bare_cycle = make_cycle(bare, state=CycleState.APPROVED)
    with pytest.raises(ValidationError) as exc:
        services.payments_prepare(cycle=bare_cycle, actor=finance)
    assert exc.value.messages == ["No Payment Manager defined."]
    assert not Payment.objects.exists() and not PaymentBatch.objects.exists()


@pytest.mark.parametrize("who", ["viewer", "registrar", "validator_user"])
def test_prepare_and_send_require_permission(who, request):
    actor = request.getfixturevalue(who)
    everyone = tag("All", 1)
    program, cycle = approved_entitlements(
        [individual("A")], payment={"create_batch": True, "batch_tag_ids": [everyone.pk]}
    )
    with pytest.raises(PermissionDenied):
        services.payments_prepare(cycle=cycle, actor=actor)
    with pytest.raises(PermissionDenied):
        services.payments_send(cycle=cycle, actor=actor)
    assert not Payment.objects.exists()


def test_send_marks_batches_started_and_payments_sent(finance, program_manager_user):
    everyone = tag("All", 1, size=1)
    program, cycle = approved_entitlements(
        [individual("A"), individual("B"), individual("C")],
        payment={"create_batch": True, "batch_tag_ids": [everyone.pk]},
    )
    services.payments_prepare(cycle=cycle, actor=program_manager_user)
    with pytest.raises(PermissionDenied):  # program managers prepare, finance sends
        services.payments_send(cycle=cycle, actor=program_manager_user)
    Payment.objects.filter(pk=Payment.objects.order_by("pk").first().pk).update(
        status=PaymentStatus.FAILED
    )
    first_batch = PaymentBatch.objects.order_by("pk").first()
    one = services.payment_batches_send(batch_ids=[first_batch.pk], actor=finance)
    assert one.data == {"batches": 1, "payments": 0}  # its only payment failed

    result = services.payments_send(cycle=cycle, actor=finance)
    assert (result.type, result.message, result.data) == (
        "success",
        "Send payments completed.",
        {"batches": 2, "payments": 2},
    )
    assert set(PaymentBatch.objects.values_list("batch_has_started", flat=True)) == {True}
    assert sorted(Payment.objects.values_list("state", flat=True)) == [
        PaymentState.ISSUED,
        PaymentState.SENT,
        PaymentState.SENT,
    ]
    again = services.payments_send(cycle=cycle, actor=finance)
    assert (again.type, again.message, again.sticky) == (
        "warning",
        "No payment batches to process.",
        True,
    )
    empty = services.payment_batches_send(batch_ids=[], actor=finance)
    assert empty.message == "No payment batches to process."


def test_payment_config_batch_tag_rules():
    cls = registry.get("payment", "default")
    last = tag("Last", 9, "[('state', '=', 'approved')]")
    first = tag("First", 1)
    with pytest.raises(ValidationError) as exc:
        cls.validate_config({"create_batch": True, "batch_tag_ids": []})
    assert exc.value.messages == ["batch_tag_ids: Batch Tags list cannot be empty."]
    with pytest.raises(ValidationError) as exc:
        cls.validate_config({"create_batch": True, "batch_tag_ids": [first.pk, last.pk]})
    assert exc.value.messages == [
        "batch_tag_ids: Last tag in the Batch Tags list must contain empty domain."
    ]
    with pytest.raises(ValidationError) as exc:
        cls.validate_config({"batch_tag_ids": [999999]})
    assert exc.value.messages == ["batch_tag_ids: Unknown payment batch tags: [999999]."]
    ok = cls.validate_config({"create_batch": False, "batch_tag_ids": [last.pk]})
    assert ok.batch_tag_ids == [last.pk]
    program = make_program(name="Tags")
    with pytest.raises(ValidationError):
        ManagerAssignment(
            program=program,
            kind="payment",
            manager_key="default",
            config={"create_batch": True, "batch_tag_ids": []},
        ).save()


def test_bad_tag_domain_is_refused_naming_the_tag(finance):
    broken = tag("Broken", 1, "[('password', '=', 'x')]")
    everyone = tag("All", 2)
    program, cycle = approved_entitlements(
        [individual("A")],
        payment={"create_batch": True, "batch_tag_ids": [broken.pk, everyone.pk]},
    )
    with pytest.raises(ValidationError) as exc:
        services.payments_prepare(cycle=cycle, actor=finance)
    assert "Batch tag 'Broken'" in exc.value.message_dict["batch_tag_ids"][0]
    assert not Payment.objects.exists()


def test_non_cash_entitlements_are_never_paid(finance):
    everyone = tag("All", 1)
    program, cycle = approved_entitlements(
        [individual("A"), individual("B")],
        payment={"create_batch": True, "batch_tag_ids": [everyone.pk]},
    )
    goods = Entitlement.objects.filter(cycle=cycle).order_by("pk").first()
    Entitlement.objects.filter(pk=goods.pk).update(is_cash_entitlement=False)

    result = services.payments_prepare(cycle=cycle, actor=finance)

    assert result.data["payments"] == 1
    assert list(Payment.objects.values_list("entitlement__is_cash_entitlement", flat=True)) == [
        True
    ]
    again = services.payments_prepare(cycle=cycle, actor=finance)
    assert again.message == "There are no new payments issued!"
    assert Payment.objects.count() == 1
