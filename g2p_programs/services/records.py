"""Record-level steps of the programs back office: one beneficiary's eligibility check,
deleting lifecycle records by upstream's rules, and the printable cycle summary.

Every write is keyword-only, checks the actor's permission (``actor=None`` = the system), runs
in one transaction and either completes or raises ``ValidationError`` with upstream's message
and changes nothing.

Deletions are set-based and all-or-nothing: whatever the number of selected records, a fixed
number of statements locks them, checks the rule over the whole selection (a query or two,
never one per record) and deletes. Upstream checked only part of a selection and then deleted
the rest of it regardless (its quirk 15: a mixed set of entitlements lost its draft ones and
kept the others silently); here a selection containing one record that may not go deletes
nothing.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, DecimalField, Exists, OuterRef, Q, QuerySet, Sum, Value
from django.db.models.deletion import ProtectedError
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from g2p_programs import selectors
from g2p_programs.choices import (
    CycleMembershipState,
    CycleState,
    EntitlementState,
    FundState,
    MembershipState,
    PaymentState,
)
from g2p_programs.models import (
    Cycle,
    CycleMembership,
    Entitlement,
    Payment,
    PaymentBatch,
    ProgramFund,
    ProgramMembership,
)
from g2p_programs.program_managers.eligibility import chain_eligible, eligibility_managers
from g2p_programs.results import Notification
from g2p_programs.roles import ROLE_CYCLE_APPROVER, ROLE_PROGRAM_MANAGER
from g2p_registry_base.choices import ROLE_ADMIN
from g2p_registry_base.services import Actor, require_perm

PERM = "g2p_programs"

# The membership states in which the form's "Verify Eligibility" applies (upstream's view).
VERIFIABLE_STATES = (MembershipState.DRAFT, MembershipState.ENROLLED)
# Roles that may print a cycle summary (upstream's button groups).
SUMMARY_ROLES = (ROLE_PROGRAM_MANAGER, ROLE_CYCLE_APPROVER, ROLE_ADMIN)


def _ids(values: Iterable[Any]) -> list[int]:
    return sorted({int(v) for v in values or []})


def _busy_reason(selected: QuerySet[Any]) -> str | None:
    """The lock reason of the first cycle or program of ``selected`` (records with a
    ``cycle``) that a background job holds, or None. One query."""
    row = (
        selected.filter(Q(cycle__locked=True) | Q(cycle__program__locked=True))
        .values_list("cycle__locked", "cycle__locked_reason", "cycle__program__locked_reason")
        .first()
    )
    if row is None:
        return None
    cycle_locked, cycle_reason, program_reason = row
    return str(cycle_reason if cycle_locked else program_reason)


def _refuse_if_busy(busy_reason: str | None) -> None:
    """Refuse while a background job holds the program or cycle the records belong to."""
    if busy_reason is not None:
        raise ValidationError(_("Operation in progress: %s") % busy_reason)


# --- one beneficiary ---------------------------------------------------------------------------


def membership_verify_eligibility(*, membership: ProgramMembership, actor: Actor) -> Notification:
    """The membership form's "Verify Eligibility": the program's eligibility chain over this
    one membership.

    Only draft and enrolled memberships are checked (the states in which upstream shows the
    button; others are refused). Not eligible -> not_eligible and the warning "beneficiary is not
    eligible"; eligible -> nothing changes (unlike "Enroll", a draft is never promoted). With no
    eligibility manager the membership is eligible (upstream's chain returns its input).
    Refused while a job holds the program. Queries: lock, managers, one ``EXISTS``, at most one
    ``UPDATE``.
    """
    require_perm(actor, f"{PERM}.change_programmembership")
    with transaction.atomic():
        locked = (
            ProgramMembership.objects.select_for_update(of=("self",))
            .select_related("program")
            .get(pk=membership.pk)
        )
        program = locked.program
        _refuse_if_busy(program.locked_reason if program.locked else None)
        if locked.state not in VERIFIABLE_STATES:
            raise ValidationError(
                _("Only draft or enrolled beneficiaries can be verified; this one is %(state)s.")
                % {"state": locked.get_state_display()}
            )
        single = ProgramMembership.objects.filter(pk=locked.pk)
        if chain_eligible(eligibility_managers(program), single).exists():
            return Notification(_("Eligibility"), _("The beneficiary is eligible."), "success")
        single.update(state=MembershipState.NOT_ELIGIBLE, write_date=timezone.now())
    membership.state = MembershipState.NOT_ELIGIBLE
    return Notification(_("Eligibility"), _("beneficiary is not eligible"), "warning")


# --- deletions ---------------------------------------------------------------------------------


def _deleted(title: str, message: str, **data: int) -> Notification:
    return Notification(title=title, message=message, data=data)


def cycle_memberships_delete(*, membership_ids: Iterable[int], actor: Actor) -> Notification:
    """Delete cycle beneficiaries, with their entitlements in those cycles.

    Upstream's rule: only beneficiaries of draft cycles, and only while their entitlement in the
    cycle (if any) is not approved; the entitlement is deleted with them. Any selected
    beneficiary breaking it refuses the whole selection with "Beneficiaries can only be deleted
    when both the cycle and entitlement are unapproved." and nothing is deleted. Refused while a
    job holds one of the cycles or programs.

    Six statements whatever the selection size: lock the cycles concerned (which serialises
    with every cycle and entitlement transition, as they lock the cycle row too), one
    ``EXISTS`` for an approved entitlement, Django's deletion of the entitlements (read, check
    for protecting payments, ``DELETE``), one ``DELETE`` of the beneficiaries.
    """
    require_perm(actor, f"{PERM}.delete_cyclemembership")
    ids = _ids(membership_ids)
    with transaction.atomic():
        selected = CycleMembership.objects.filter(pk__in=ids)
        cycles = list(
            Cycle.objects.select_for_update(of=("self",))
            .filter(pk__in=selected.values("cycle_id"))
            .values_list(
                "state", "locked", "locked_reason", "program__locked", "program__locked_reason"
            )
        )
        for _state, locked, reason, program_locked, program_reason in cycles:
            if locked or program_locked:
                _refuse_if_busy(reason if locked else program_reason)
        in_selection = selected.filter(
            cycle_id=OuterRef("cycle_id"), registrant_id=OuterRef("registrant_id")
        )
        entitlements = Entitlement.objects.filter(Exists(in_selection))
        if (
            any(state != CycleState.DRAFT for state, *_rest in cycles)
            or entitlements.filter(state=EntitlementState.APPROVED).exists()
        ):
            raise ValidationError(
                _(
                    "Beneficiaries can only be deleted when both the cycle and entitlement are "
                    "unapproved."
                )
            )
        entitlements_deleted = _delete(entitlements)
        members_deleted = _delete(selected)
    return _deleted(
        _("Beneficiaries"),
        _("%(n)d beneficiaries deleted, with %(e)d entitlements.")
        % {"n": members_deleted, "e": entitlements_deleted},
        deleted=members_deleted,
        entitlements_deleted=entitlements_deleted,
    )


def _delete(queryset: QuerySet[Any]) -> int:
    """Delete ``queryset`` and return how many rows of its own model went; rows still
    protected by a payment refuse the deletion."""
    try:
        _total, per_model = queryset.delete()
    except ProtectedError as exc:
        raise ValidationError(_("Entitlements that have payments cannot be deleted.")) from exc
    return per_model.get(queryset.model._meta.label, 0)


def entitlements_delete(*, entitlement_ids: Iterable[int], actor: Actor) -> Notification:
    """Delete draft entitlements.

    Any selected entitlement that is not draft refuses the whole selection with upstream's
    "Only draft entitlements are allowed to be deleted" and nothing is deleted (upstream deleted
    the draft ones of a mixed selection and kept the others silently: its quirk 15). Refused
    while a job holds one of their cycles. Six queries whatever the selection size: lock the
    rows, the busy check, one ``EXISTS`` for a non-draft one, Django's deletion (read, check for
    protecting payments, ``DELETE``).
    """
    require_perm(actor, f"{PERM}.delete_entitlement")
    ids = _ids(entitlement_ids)
    with transaction.atomic():
        selected = Entitlement.objects.filter(pk__in=ids)
        list(selected.select_for_update(of=("self",)).values_list("pk", flat=True))
        _refuse_if_busy(_busy_reason(selected))
        if selected.exclude(state=EntitlementState.DRAFT).exists():
            raise ValidationError(_("Only draft entitlements are allowed to be deleted"))
        deleted = _delete(selected)
    return _deleted(_("Entitlement"), _("%d entitlements deleted.") % deleted, deleted=deleted)


def _refuse_unissued(payments: QuerySet[Payment]) -> None:
    state = (
        payments.exclude(state=PaymentState.ISSUED)
        .order_by("pk")
        .values_list("state", flat=True)
        .first()
    )
    if state is not None:
        raise ValidationError(
            _("You cannot delete records in %s state.") % PaymentState(state).label
        )


def payments_delete(*, payment_ids: Iterable[int], actor: Actor) -> Notification:
    """Delete payments that are still issued.

    Any selected payment in another state refuses the whole selection with upstream's "You
    cannot delete records in <state> state." (the state of the first such payment) and nothing
    is deleted. Refused while a job holds one of their cycles. Four queries whatever the
    selection size: lock the rows, the busy check, the first state that is not issued, one
    ``DELETE``.
    """
    require_perm(actor, f"{PERM}.delete_payment")
    ids = _ids(payment_ids)
    with transaction.atomic():
        selected = Payment.objects.filter(pk__in=ids)
        list(selected.select_for_update(of=("self",)).values_list("pk", flat=True))
        _refuse_if_busy(_busy_reason(selected))
        _refuse_unissued(selected)
        deleted = _delete(selected)
    return _deleted(_("Payment"), _("%d payments deleted.") % deleted, deleted=deleted)


def payment_batches_delete(*, batch_ids: Iterable[int], actor: Actor) -> Notification:
    """Delete payment batches that have not started, with their payments.

    A started batch in the selection refuses it all with upstream's "Deletion is not allowed
    once the batch has started."; so does a payment of theirs that is no longer issued (the
    payment rule, which upstream's batch deletion bypassed). Nothing is deleted then. Eight queries
    whatever the selection size: lock the batches, the busy check, one ``EXISTS`` for a started
    one, the payments' first state that is not issued, one ``DELETE`` of the payments, Django's
    deletion of the batches (read, detach payments, ``DELETE``).
    """
    require_perm(actor, f"{PERM}.delete_paymentbatch", f"{PERM}.delete_payment")
    ids = _ids(batch_ids)
    with transaction.atomic():
        selected = PaymentBatch.objects.filter(pk__in=ids)
        list(selected.select_for_update(of=("self",)).values_list("pk", flat=True))
        _refuse_if_busy(_busy_reason(selected))
        if selected.filter(batch_has_started=True).exists():
            raise ValidationError(_("Deletion is not allowed once the batch has started."))
        payments = Payment.objects.filter(batch__in=selected)
        _refuse_unissued(payments)
        payments_deleted = _delete(payments)
        deleted = _delete(selected)
    return _deleted(
        _("Payment"),
        _("%(n)d payment batches deleted, with %(p)d payments.")
        % {"n": deleted, "p": payments_deleted},
        deleted=deleted,
        payments_deleted=payments_deleted,
    )


def funds_delete(*, fund_ids: Iterable[int], actor: Actor) -> Notification:
    """Delete fund entries that were never posted (upstream refused the whole selection when
    any was posted, as here). Three queries: lock, one ``EXISTS``, one ``DELETE``."""
    require_perm(actor, f"{PERM}.delete_programfund")
    ids = _ids(fund_ids)
    with transaction.atomic():
        selected = ProgramFund.objects.filter(pk__in=ids)
        list(selected.select_for_update().values_list("pk", flat=True))
        if selected.filter(state=FundState.POSTED).exists():
            raise ValidationError(_("This fund is already posted and cannot be deleted."))
        deleted = _delete(selected)
    return _deleted(_("Program Fund"), _("%d fund entries deleted.") % deleted, deleted=deleted)


# --- cycle summary -----------------------------------------------------------------------------


def may_print_cycle_summary(user: Actor) -> bool:
    """Program Managers, Cycle Approvers and administrators (upstream's groups). One query."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return user.groups.filter(name__in=SUMMARY_ROLES).exists()


@dataclass(frozen=True)
class CycleSummary:
    """What upstream's "Print Summary" report shows of an approved cycle."""

    program: str
    cycle: str
    approved_date: datetime.datetime | None
    approved_by: str
    members_count: int
    entitlements_count: int
    currency: str
    total_amount: Decimal
    amount_in_words: str


def cycle_summary(*, cycle: Cycle, actor: Actor) -> CycleSummary:
    """The summary of an approved cycle of a cash program: program, cycle, approval date and
    user, enrolled beneficiaries, the total of ALL its entitlements (any state, as upstream)
    and that amount in words.

    Refused (``PermissionDenied``) to users outside :data:`SUMMARY_ROLES`, and
    (``ValidationError``) for a cycle that is not approved or whose program's entitlement
    manager is not a cash one. Five queries: the role, the cycle, the managers, the total and
    the beneficiaries count.
    """
    if actor is not None and not may_print_cycle_summary(actor):
        raise PermissionDenied(
            _("Only Program Managers, Cycle Approvers and administrators can print summaries.")
        )
    fresh = Cycle.objects.select_related("program", "approved_by").get(pk=cycle.pk)
    if fresh.state != CycleState.APPROVED:
        raise ValidationError(_("The summary can only be printed for an approved cycle."))
    if not selectors.program_cash_setup(program=fresh.program).is_cash:
        raise ValidationError(_("The summary is only available for cash entitlements."))
    money = DecimalField(max_digits=18, decimal_places=2)
    totals = Cycle.objects.filter(pk=fresh.pk).aggregate(
        total=Coalesce(
            Sum("entitlements__initial_amount"), Value(Decimal("0")), output_field=money
        ),
        entitlements=Count("entitlements"),
    )
    members = CycleMembership.objects.filter(
        cycle=fresh, state=CycleMembershipState.ENROLLED
    ).count()
    approver = fresh.approved_by
    total = totals["total"]
    return CycleSummary(
        program=fresh.program.name,
        cycle=fresh.name,
        approved_date=fresh.approved_date,
        approved_by=(approver.get_full_name() or approver.get_username()) if approver else "",
        members_count=members,
        entitlements_count=totals["entitlements"],
        currency=fresh.program.currency,
        total_amount=total,
        amount_in_words=amount_in_words(total, fresh.program.currency),
    )


# --- amounts in words --------------------------------------------------------------------------

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ("", "thousand", "million", "billion", "trillion", "quadrillion", "quintillion")


def _below_thousand(n: int) -> str:
    words = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words += [_ONES[hundreds], "hundred"]
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        words.append(_TENS[tens] + (f"-{_ONES[ones]}" if ones else ""))
    elif rest:
        words.append(_ONES[rest])
    return " ".join(words)


def number_in_words(n: int) -> str:
    """A whole number in English words, short scale: 1234 -> "one thousand two hundred
    thirty-four". Up to 10**21 - 1."""
    if n < 0:
        return "minus " + number_in_words(-n)
    if n == 0:
        return _ONES[0]
    if n >= 1000 ** len(_SCALES):
        raise ValueError("number too large to write in words")
    groups = []
    scale = 0
    while n:
        n, chunk = divmod(n, 1000)
        if chunk:
            groups.append(" ".join(w for w in (_below_thousand(chunk), _SCALES[scale]) if w))
        scale += 1
    return " ".join(reversed(groups))


def amount_in_words(amount: Decimal, currency: str) -> str:
    """An amount as on a cheque, title-cased like upstream's report: ``Decimal("1250.50")``,
    ``"KES"`` -> "One Thousand Two Hundred Fifty And 50/100 KES". Empty for zero (upstream)."""
    cents_total = int(Decimal(amount).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) * 100)
    if cents_total == 0:
        return ""
    sign = "minus " if cents_total < 0 else ""
    whole, cents = divmod(abs(cents_total), 100)
    words = sign + number_in_words(whole)
    if cents:
        words += f" and {cents:02d}/100"
    return f"{words.title()} {currency}".strip()
