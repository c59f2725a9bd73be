"""Record-level services: one beneficiary's eligibility check, deletions by upstream's rules
(all-or-nothing, fixed query counts, permissions), the cycle summary and amounts in words."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from g2p_programs.choices import (
    CycleMembershipState,
    CycleState,
    EntitlementState,
    FundState,
    ManagerKind,
    MembershipState,
    PaymentState,
)
from g2p_programs.factories import (
    CycleMembershipFactory,
    ProgramFactory,
    ProgramMembershipFactory,
    program_with_managers,
)
from g2p_programs.models import (
    Cycle,
    CycleMembership,
    Entitlement,
    ManagerAssignment,
    Payment,
    PaymentBatch,
    ProgramFund,
    ProgramMembership,
)
from g2p_programs.program_managers.entitlement import DefaultCashEntitlementManager
from g2p_programs.registry import registry
from g2p_programs.roles import ROLE_CYCLE_APPROVER
from g2p_programs.services import records
from g2p_programs.tests.fixtures_money import *  # noqa: F403
from g2p_programs.tests.fixtures_money import add_volume, make_cycle, make_program, role_user
from g2p_registry_base.choices import ROLE_ADMIN

pytestmark = pytest.mark.django_db

NOBODY = "[('name', '=', 'Nobody at all')]"


def count_queries(call: Any) -> int:
    with CaptureQueriesContext(connection) as ctx:
        call()
    return len(ctx.captured_queries)


def entitlement(
    cycle: Cycle, registrant_id: int, state: str, amount: str = "100.00"
) -> Entitlement:
    e = Entitlement(
        registrant_id=registrant_id,
        cycle=cycle,
        program=cycle.program,
        initial_amount=Decimal(amount),
        state=state,
    )
    e.save()
    return e


def entitle_all(cycle: Cycle, state: str = EntitlementState.DRAFT) -> None:
    for m in cycle.memberships.order_by("pk"):
        entitlement(cycle, m.registrant_id, state)


# --------------------------------------------------------------------------------------------
# One beneficiary's "Verify Eligibility"
# --------------------------------------------------------------------------------------------


def test_verify_eligibility_keeps_an_eligible_draft_in_draft():
    program = program_with_managers()
    membership = ProgramMembershipFactory(program=program, state=MembershipState.DRAFT)

    result = records.membership_verify_eligibility(membership=membership, actor=None)

    assert (result.title, result.message, result.type) == (
        "Eligibility",
        "The beneficiary is eligible.",
        "success",
    )
    membership.refresh_from_db()
    assert membership.state == MembershipState.DRAFT
    assert membership.enrollment_date is None


def test_verify_eligibility_marks_an_enrolled_one_not_eligible():
    program = program_with_managers(eligibility=[("default", {"eligibility_domain": NOBODY})])
    membership = ProgramMembershipFactory(program=program, state=MembershipState.ENROLLED)
    other = ProgramMembershipFactory(program=program, state=MembershipState.ENROLLED)

    result = records.membership_verify_eligibility(membership=membership, actor=None)

    assert (result.message, result.type) == ("beneficiary is not eligible", "warning")
    assert membership.state == MembershipState.NOT_ELIGIBLE
    states = dict(ProgramMembership.objects.values_list("pk", "state"))
    assert states == {
        membership.pk: MembershipState.NOT_ELIGIBLE,
        other.pk: MembershipState.ENROLLED,
    }


def test_verify_eligibility_without_eligibility_manager_is_eligible():
    program = program_with_managers(eligibility=())
    membership = ProgramMembershipFactory(program=program, state=MembershipState.DRAFT)
    result = records.membership_verify_eligibility(membership=membership, actor=None)
    assert result.message == "The beneficiary is eligible."
    membership.refresh_from_db()
    assert membership.state == MembershipState.DRAFT


@pytest.mark.parametrize(
    ("state", "label"),
    [
        (MembershipState.NOT_ELIGIBLE, "Not Eligible"),
        (MembershipState.DUPLICATED, "Duplicated"),
        (MembershipState.PAUSED, "Paused"),
        (MembershipState.EXITED, "Exited"),
    ],
)
def test_verify_eligibility_refused_outside_draft_and_enrolled(state, label):
    program = program_with_managers(eligibility=[("default", {"eligibility_domain": NOBODY})])
    membership = ProgramMembershipFactory(program=program, state=state)

    with pytest.raises(ValidationError) as exc:
        records.membership_verify_eligibility(membership=membership, actor=None)

    assert exc.value.messages == [
        f"Only draft or enrolled beneficiaries can be verified; this one is {label}."
    ]
    membership.refresh_from_db()
    assert membership.state == state


def test_verify_eligibility_refused_while_a_job_holds_the_program():
    program = program_with_managers(eligibility=[("default", {"eligibility_domain": NOBODY})])
    membership = ProgramMembershipFactory(program=program, state=MembershipState.DRAFT)
    type(program).objects.filter(pk=program.pk).update(
        locked=True, locked_reason="Eligibility check of beneficiaries"
    )

    with pytest.raises(ValidationError) as exc:
        records.membership_verify_eligibility(membership=membership, actor=None)

    assert exc.value.messages == ["Operation in progress: Eligibility check of beneficiaries"]
    membership.refresh_from_db()
    assert membership.state == MembershipState.DRAFT


def test_verify_eligibility_needs_the_membership_permission(validator_user, finance):
    program = program_with_managers(eligibility=[("default", {"eligibility_domain": NOBODY})])
    membership = ProgramMembershipFactory(program=program, state=MembershipState.DRAFT)

    with pytest.raises(PermissionDenied):
        records.membership_verify_eligibility(membership=membership, actor=finance)
    membership.refresh_from_db()
    assert membership.state == MembershipState.DRAFT

    records.membership_verify_eligibility(membership=membership, actor=validator_user)
    membership.refresh_from_db()
    assert membership.state == MembershipState.NOT_ELIGIBLE


# --------------------------------------------------------------------------------------------
# Cycle beneficiaries
# --------------------------------------------------------------------------------------------


PROGRAM_NAMES = (f"Cash Transfer {i}" for i in range(1, 1000))


def draft_cycle_with(n: int, *, state: str = CycleState.DRAFT) -> Cycle:
    """A cycle (of a new cash program) with ``n`` enrolled beneficiaries."""
    cycle = make_cycle(make_program(name=next(PROGRAM_NAMES)), state=state)
    add_volume(cycle, n)
    return cycle


def test_cycle_members_deleted_with_their_unapproved_entitlements():
    cycle = draft_cycle_with(4)
    entitle_all(cycle)
    members = list(cycle.memberships.order_by("pk"))
    Entitlement.objects.filter(registrant_id=members[1].registrant_id).update(
        state=EntitlementState.PENDING_VALIDATION
    )
    # the same registrant in another cycle keeps membership and entitlement
    other = make_cycle(cycle.program, sequence=2)
    CycleMembership.objects.create(registrant_id=members[0].registrant_id, cycle=other)
    kept = entitlement(other, members[0].registrant_id, EntitlementState.DRAFT)

    result = records.cycle_memberships_delete(
        membership_ids=[members[0].pk, members[1].pk, members[2].pk], actor=None
    )

    assert result.message == "3 beneficiaries deleted, with 3 entitlements."
    assert result.data == {"deleted": 3, "entitlements_deleted": 3}
    assert list(cycle.memberships.values_list("pk", flat=True)) == [members[3].pk]
    assert list(
        Entitlement.objects.filter(cycle=cycle).values_list("registrant_id", flat=True)
    ) == [members[3].registrant_id]
    assert other.memberships.count() == 1
    assert Entitlement.objects.filter(pk=kept.pk).exists()


def test_cycle_member_without_entitlement_is_deleted():
    cycle = draft_cycle_with(2)
    first = cycle.memberships.order_by("pk").first()
    result = records.cycle_memberships_delete(membership_ids=[first.pk], actor=None)
    assert result.message == "1 beneficiaries deleted, with 0 entitlements."
    assert cycle.memberships.count() == 1


CYCLE_REFUSAL = (
    "Beneficiaries can only be deleted when both the cycle and entitlement are unapproved."
)


def test_cycle_members_with_an_approved_entitlement_refuse_the_whole_selection():
    cycle = draft_cycle_with(3)
    entitle_all(cycle)
    members = list(cycle.memberships.order_by("pk"))
    Entitlement.objects.filter(registrant_id=members[2].registrant_id).update(
        state=EntitlementState.APPROVED
    )

    with pytest.raises(ValidationError) as exc:
        records.cycle_memberships_delete(membership_ids=[m.pk for m in members], actor=None)

    assert exc.value.messages == [CYCLE_REFUSAL]
    assert cycle.memberships.count() == 3
    assert Entitlement.objects.filter(cycle=cycle).count() == 3


@pytest.mark.parametrize(
    "state",
    [
        CycleState.TO_APPROVE,
        CycleState.APPROVED,
        CycleState.DISTRIBUTED,
        CycleState.ENDED,
        CycleState.CANCELLED,
    ],
)
def test_cycle_members_of_a_cycle_past_draft_are_not_deleted(state):
    draft = draft_cycle_with(2)
    later = make_cycle(draft.program, sequence=2, state=state)
    CycleMembershipFactory(cycle=later)
    ids = list(CycleMembership.objects.values_list("pk", flat=True))

    with pytest.raises(ValidationError) as exc:
        records.cycle_memberships_delete(membership_ids=ids, actor=None)

    assert exc.value.messages == [CYCLE_REFUSAL]
    assert CycleMembership.objects.count() == 3


def test_cycle_members_not_deleted_while_a_job_holds_the_cycle():
    cycle = draft_cycle_with(2)
    Cycle.objects.filter(pk=cycle.pk).update(
        locked=True, locked_reason="Prepare entitlement for beneficiaries."
    )
    ids = list(cycle.memberships.values_list("pk", flat=True))
    with pytest.raises(ValidationError) as exc:
        records.cycle_memberships_delete(membership_ids=ids, actor=None)
    assert exc.value.messages == ["Operation in progress: Prepare entitlement for beneficiaries."]
    assert cycle.memberships.count() == 2


def test_cycle_member_deletion_is_for_administrators(django_user_model, program_manager_user):
    cycle = draft_cycle_with(2)
    ids = list(cycle.memberships.values_list("pk", flat=True))

    with pytest.raises(PermissionDenied):
        records.cycle_memberships_delete(membership_ids=ids, actor=program_manager_user)
    assert cycle.memberships.count() == 2

    admin = role_user(django_user_model, "registry-admin", ROLE_ADMIN)
    records.cycle_memberships_delete(membership_ids=ids, actor=admin)
    assert cycle.memberships.count() == 0


def test_cycle_member_deletion_is_a_fixed_number_of_queries():
    small, large = draft_cycle_with(3), draft_cycle_with(40)
    for cycle in (small, large):
        entitle_all(cycle)

    def run(cycle: Cycle) -> int:
        ids = list(cycle.memberships.values_list("pk", flat=True))
        return count_queries(
            lambda: records.cycle_memberships_delete(membership_ids=ids, actor=None)
        )

    # savepoint, lock, approved check, read + payments check + vouchers cascade + delete of the
    # entitlements, delete of the beneficiaries, release
    assert run(small) == run(large) == 9
    assert CycleMembership.objects.count() == 0
    assert Entitlement.objects.count() == 0


# --------------------------------------------------------------------------------------------
# Entitlements
# --------------------------------------------------------------------------------------------


def test_draft_entitlements_are_deleted(program_manager_user):
    cycle = draft_cycle_with(3)
    entitle_all(cycle)
    ids = list(Entitlement.objects.order_by("pk").values_list("pk", flat=True))

    result = records.entitlements_delete(entitlement_ids=ids[:2], actor=program_manager_user)

    assert (result.message, result.data) == ("2 entitlements deleted.", {"deleted": 2})
    assert list(Entitlement.objects.values_list("pk", flat=True)) == [ids[2]]


@pytest.mark.parametrize(
    "state",
    [
        EntitlementState.PENDING_VALIDATION,
        EntitlementState.APPROVED,
        EntitlementState.CANCELLED,
        EntitlementState.EXPIRED,
        EntitlementState.REJECTED3,
    ],
)
def test_a_mixed_selection_of_entitlements_deletes_nothing(state):
    """Upstream deleted the draft ones and kept the others silently (quirk 15)."""
    cycle = draft_cycle_with(3)
    entitle_all(cycle)
    ids = list(Entitlement.objects.order_by("pk").values_list("pk", flat=True))
    Entitlement.objects.filter(pk=ids[1]).update(state=state)

    with pytest.raises(ValidationError) as exc:
        records.entitlements_delete(entitlement_ids=ids, actor=None)

    assert exc.value.messages == ["Only draft entitlements are allowed to be deleted"]
    assert sorted(Entitlement.objects.values_list("pk", flat=True)) == ids


def test_a_program_validator_cannot_delete_entitlements(validator_user, finance):
    cycle = draft_cycle_with(1)
    entitle_all(cycle)
    ids = list(Entitlement.objects.values_list("pk", flat=True))
    for actor in (validator_user, finance):
        with pytest.raises(PermissionDenied):
            records.entitlements_delete(entitlement_ids=ids, actor=actor)
    assert Entitlement.objects.count() == 1


def test_entitlements_not_deleted_while_a_job_holds_the_program():
    cycle = draft_cycle_with(1)
    entitle_all(cycle)
    type(cycle.program).objects.filter(pk=cycle.program_id).update(
        locked=True, locked_reason="Eligibility check of beneficiaries"
    )
    with pytest.raises(ValidationError) as exc:
        records.entitlements_delete(
            entitlement_ids=list(Entitlement.objects.values_list("pk", flat=True)), actor=None
        )
    assert exc.value.messages == ["Operation in progress: Eligibility check of beneficiaries"]
    assert Entitlement.objects.count() == 1


def test_entitlement_deletion_is_a_fixed_number_of_queries():
    small, large = draft_cycle_with(3), draft_cycle_with(40)

    def run(cycle: Cycle) -> int:
        entitle_all(cycle)
        ids = list(Entitlement.objects.filter(cycle=cycle).values_list("pk", flat=True))
        return count_queries(lambda: records.entitlements_delete(entitlement_ids=ids, actor=None))

    # savepoint, lock, busy check, state check, read + payments + vouchers cascade + delete, release
    assert run(small) == run(large) == 9
    assert Entitlement.objects.count() == 0


# --------------------------------------------------------------------------------------------
# Payments and batches
# --------------------------------------------------------------------------------------------


def paid_cycle(n: int) -> tuple[Cycle, list[Payment]]:
    """An approved cycle with ``n`` approved entitlements, each with an issued payment."""
    cycle = draft_cycle_with(n, state=CycleState.APPROVED)
    entitle_all(cycle, EntitlementState.APPROVED)
    payments = [
        Payment.objects.create(entitlement=e, cycle=cycle, amount_issued=e.initial_amount)
        for e in Entitlement.objects.filter(cycle=cycle).order_by("pk")
    ]
    return cycle, payments


def in_batch(cycle: Cycle, payments: list[Payment], **fields: Any) -> PaymentBatch:
    batch = PaymentBatch.objects.create(cycle=cycle, **fields)
    Payment.objects.filter(pk__in=[p.pk for p in payments]).update(batch=batch)
    return batch


def test_issued_payments_are_deleted():
    _cycle, payments = paid_cycle(3)
    result = records.payments_delete(payment_ids=[p.pk for p in payments[:2]], actor=None)
    assert result.message == "2 payments deleted."
    assert list(Payment.objects.values_list("pk", flat=True)) == [payments[2].pk]
    assert Entitlement.objects.count() == 3


@pytest.mark.parametrize(
    ("state", "label"), [(PaymentState.SENT, "Sent"), (PaymentState.RECONCILED, "Reconciled")]
)
def test_payments_past_issued_refuse_the_selection(state, label):
    _cycle, payments = paid_cycle(3)
    Payment.objects.filter(pk=payments[1].pk).update(state=state)

    with pytest.raises(ValidationError) as exc:
        records.payments_delete(payment_ids=[p.pk for p in payments], actor=None)

    assert exc.value.messages == [f"You cannot delete records in {label} state."]
    assert Payment.objects.count() == 3


def test_payment_deletion_needs_the_delete_permission(finance, program_manager_user):
    _cycle, payments = paid_cycle(1)
    for actor in (finance, program_manager_user):
        with pytest.raises(PermissionDenied):
            records.payments_delete(payment_ids=[payments[0].pk], actor=actor)
    assert Payment.objects.count() == 1


def test_payment_deletion_is_a_fixed_number_of_queries():
    def run(n: int) -> int:
        _cycle, payments = paid_cycle(n)
        ids = [p.pk for p in payments]
        return count_queries(lambda: records.payments_delete(payment_ids=ids, actor=None))

    # savepoint, lock, busy check, state check, delete, release
    assert run(3) == run(30) == 6
    assert Payment.objects.count() == 0


def test_a_batch_that_has_not_started_is_deleted_with_its_payments():
    cycle, payments = paid_cycle(3)
    batch = in_batch(cycle, payments[:2])
    other = in_batch(cycle, payments[2:])

    result = records.payment_batches_delete(batch_ids=[batch.pk], actor=None)

    assert result.message == "1 payment batches deleted, with 2 payments."
    assert result.data == {"deleted": 1, "payments_deleted": 2}
    assert list(PaymentBatch.objects.values_list("pk", flat=True)) == [other.pk]
    assert list(Payment.objects.values_list("pk", flat=True)) == [payments[2].pk]
    assert Entitlement.objects.count() == 3


def test_a_started_batch_refuses_the_selection():
    cycle, payments = paid_cycle(3)
    waiting = in_batch(cycle, payments[:2])
    started = in_batch(cycle, payments[2:], batch_has_started=True)

    with pytest.raises(ValidationError) as exc:
        records.payment_batches_delete(batch_ids=[waiting.pk, started.pk], actor=None)

    assert exc.value.messages == ["Deletion is not allowed once the batch has started."]
    assert PaymentBatch.objects.count() == 2
    assert Payment.objects.count() == 3


def test_a_batch_with_a_sent_payment_is_not_deleted():
    cycle, payments = paid_cycle(2)
    batch = in_batch(cycle, payments)
    Payment.objects.filter(pk=payments[0].pk).update(state=PaymentState.SENT)

    with pytest.raises(ValidationError) as exc:
        records.payment_batches_delete(batch_ids=[batch.pk], actor=None)

    assert exc.value.messages == ["You cannot delete records in Sent state."]
    assert PaymentBatch.objects.count() == 1
    assert Payment.objects.count() == 2


def test_batch_deletion_is_a_fixed_number_of_queries():
    def run(n: int) -> int:
        cycle, payments = paid_cycle(n)
        batches = [in_batch(cycle, payments[i : i + 2]) for i in range(0, n, 2)]
        ids = [b.pk for b in batches]
        return count_queries(lambda: records.payment_batches_delete(batch_ids=ids, actor=None))

    # savepoint, lock, busy check, started check, payment states, delete of the payments,
    # read + detach payments + delete of the batches, release
    assert run(4) == run(40) == 10
    assert PaymentBatch.objects.count() == 0
    assert Payment.objects.count() == 0


def test_batch_deletion_needs_both_delete_permissions(finance, program_manager_user):
    cycle, payments = paid_cycle(1)
    batch = in_batch(cycle, payments)
    for actor in (finance, program_manager_user):
        with pytest.raises(PermissionDenied):
            records.payment_batches_delete(batch_ids=[batch.pk], actor=actor)
    assert PaymentBatch.objects.count() == 1


# --------------------------------------------------------------------------------------------
# Funds
# --------------------------------------------------------------------------------------------


def test_funds_never_posted_are_deleted_and_a_posted_one_refuses_the_selection():
    program = make_program()
    draft = ProgramFund(program=program, amount=Decimal("10"))
    draft.save()
    cancelled = ProgramFund(program=program, amount=Decimal("20"), state=FundState.CANCELLED)
    cancelled.save()
    posted = posted_fund(program, "30.00")  # noqa: F405

    with pytest.raises(ValidationError) as exc:
        records.funds_delete(fund_ids=[draft.pk, posted.pk], actor=None)
    assert exc.value.messages == ["This fund is already posted and cannot be deleted."]
    assert ProgramFund.objects.count() == 3

    result = records.funds_delete(fund_ids=[draft.pk, cancelled.pk], actor=None)
    assert result.message == "2 fund entries deleted."
    assert list(ProgramFund.objects.values_list("pk", flat=True)) == [posted.pk]


def test_fund_deletion_is_for_administrators(finance):
    program = make_program()
    fund = ProgramFund(program=program, amount=Decimal("10"))
    fund.save()
    with pytest.raises(PermissionDenied):
        records.funds_delete(fund_ids=[fund.pk], actor=finance)
    assert ProgramFund.objects.count() == 1


# --------------------------------------------------------------------------------------------
# Cycle summary
# --------------------------------------------------------------------------------------------


def approved_cash_cycle(django_user_model: Any) -> tuple[Cycle, Any]:
    approver = role_user(django_user_model, "approver", ROLE_CYCLE_APPROVER)
    approver.first_name, approver.last_name = "Ada", "Approver"
    approver.save()
    program = make_program(name="Elder Cash", currency="KES", payment={})
    cycle = make_cycle(program, state=CycleState.APPROVED)
    add_volume(cycle, 3)
    CycleMembershipFactory(cycle=cycle, state=CycleMembershipState.NOT_ELIGIBLE)
    members = list(cycle.memberships.order_by("pk"))
    entitlement(cycle, members[0].registrant_id, EntitlementState.APPROVED, "1000.25")
    entitlement(cycle, members[1].registrant_id, EntitlementState.APPROVED, "200.00")
    entitlement(cycle, members[2].registrant_id, EntitlementState.CANCELLED, "50.25")
    approved_at = timezone.now()
    Cycle.objects.filter(pk=cycle.pk).update(approved_by=approver, approved_date=approved_at)
    cycle.refresh_from_db()
    return cycle, approver


def test_cycle_summary_of_an_approved_cash_cycle(django_user_model):
    cycle, approver = approved_cash_cycle(django_user_model)

    summary = records.cycle_summary(cycle=cycle, actor=approver)

    assert summary == records.CycleSummary(
        program="Elder Cash",
        cycle="Cycle 1",
        approved_date=cycle.approved_date,
        approved_by="Ada Approver",
        members_count=3,
        entitlements_count=3,
        currency="KES",
        total_amount=Decimal("1250.50"),
        amount_in_words="One Thousand Two Hundred Fifty And 50/100 KES",
    )


def test_cycle_summary_roles(django_user_model, program_manager_user, validator_user, finance):
    cycle, approver = approved_cash_cycle(django_user_model)
    admin = role_user(django_user_model, "registry-admin", ROLE_ADMIN)
    for allowed in (approver, program_manager_user, admin):
        assert records.cycle_summary(cycle=cycle, actor=allowed).total_amount == Decimal("1250.50")
    for refused in (validator_user, finance):
        assert records.may_print_cycle_summary(refused) is False
        with pytest.raises(PermissionDenied):
            records.cycle_summary(cycle=cycle, actor=refused)


@pytest.mark.parametrize(
    "state",
    [CycleState.DRAFT, CycleState.TO_APPROVE, CycleState.DISTRIBUTED, CycleState.CANCELLED],
)
def test_cycle_summary_only_for_an_approved_cycle(state):
    cycle = make_cycle(make_program(payment={}), state=state)
    with pytest.raises(ValidationError) as exc:
        records.cycle_summary(cycle=cycle, actor=None)
    assert exc.value.messages == ["The summary can only be printed for an approved cycle."]


class InKindEntitlementManager(DefaultCashEntitlementManager):
    key = "in_kind_test"
    label = "In kind (test)"
    IS_CASH = False


def test_cycle_summary_only_for_cash_entitlements():
    program = make_program(entitlement=False, payment={})  # type: ignore[arg-type]
    cycle = make_cycle(program, state=CycleState.APPROVED)
    with registry.temporarily(InKindEntitlementManager):
        ManagerAssignment(
            program=program, kind=ManagerKind.ENTITLEMENT, manager_key="in_kind_test"
        ).save()
        with pytest.raises(ValidationError) as exc:
            records.cycle_summary(cycle=cycle, actor=None)
    assert exc.value.messages == ["The summary is only available for cash entitlements."]


def test_summary_of_a_cycle_without_entitlements_has_no_words():
    cycle = make_cycle(make_program(payment={}), state=CycleState.APPROVED)
    summary = records.cycle_summary(cycle=cycle, actor=None)
    assert (summary.total_amount, summary.amount_in_words, summary.members_count) == (
        Decimal("0"),
        "",
        0,
    )
    assert summary.approved_by == ""


# --------------------------------------------------------------------------------------------
# Amounts in words
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "zero"),
        (7, "seven"),
        (13, "thirteen"),
        (20, "twenty"),
        (42, "forty-two"),
        (100, "one hundred"),
        (101, "one hundred one"),
        (999, "nine hundred ninety-nine"),
        (1000, "one thousand"),
        (1001, "one thousand one"),
        (21_000_019, "twenty-one million nineteen"),
        (1_000_000_000, "one billion"),
        (-5, "minus five"),
        (
            987_654_321_012,
            "nine hundred eighty-seven billion six hundred fifty-four million three hundred "
            "twenty-one thousand twelve",
        ),
    ],
)
def test_number_in_words(n, words):
    assert records.number_in_words(n) == words


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("0", ""),
        ("0.00", ""),
        ("1", "One KES"),
        ("0.05", "Zero And 05/100 KES"),
        ("1500.00", "One Thousand Five Hundred KES"),
        ("21.5", "Twenty-One And 50/100 KES"),
        (
            "99999999999999.99",
            "Ninety-Nine Trillion Nine Hundred Ninety-Nine Billion Nine Hundred Ninety-Nine "
            "Million Nine Hundred Ninety-Nine Thousand Nine Hundred Ninety-Nine And 99/100 KES",
        ),
    ],
)
def test_amount_in_words(amount, words):
    assert records.amount_in_words(Decimal(amount), "KES") == words


def test_number_too_large_for_words():
    with pytest.raises(ValueError):
        records.number_in_words(10**21)


def test_cash_setup_follows_the_entitlement_and_payment_managers():
    from g2p_programs.selectors import program_cash_setup

    def setup(program: Any) -> tuple[bool, bool, bool]:
        found = program_cash_setup(program=program)
        return (found.is_cash, found.has_payment_manager, found.pays_cash)

    assert setup(ProgramFactory()) == (False, False, False)
    assert setup(make_program(name="Cash only")) == (True, False, False)
    assert setup(make_program(name="Cash paid", payment={})) == (True, True, True)
    in_kind = make_program(name="In kind", entitlement=False, payment={})  # type: ignore[arg-type]
    with registry.temporarily(InKindEntitlementManager):
        ManagerAssignment(
            program=in_kind, kind=ManagerKind.ENTITLEMENT, manager_key="in_kind_test"
        ).save()
        assert setup(in_kind) == (False, True, False)
    # the manager class is gone once the registry is back: not cash
    assert setup(in_kind) == (False, True, False)
