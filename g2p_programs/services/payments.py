"""The payment workflow: prepare payments for a cycle's approved entitlements, then send them.

Upstream cycle buttons "Prepare Payments" / "Send Payments" and the batch form's "Send
Payments", delegating to the program's payment manager
(:mod:`g2p_programs.program_managers.payment`). Each service checks the actor's permission,
locks the cycle row (``SELECT … FOR UPDATE``), checks its state and runs a fixed number of
queries whatever the number of beneficiaries. Refusals raise ``ValidationError`` and change
nothing; outcomes are upstream's notifications.

Decisions: payments are prepared and sent only in an *approved* cycle (upstream showed the
buttons only there). With no batch tags configured the default manager creates no payment
(upstream's behaviour) and the result is "There are no new payments issued!".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from g2p_programs import bulk
from g2p_programs.choices import CycleState, EntitlementState, ManagerKind, PaymentState
from g2p_programs.models import Cycle, Entitlement, Payment, PaymentBatch, Program
from g2p_programs.program_managers.notification import notify
from g2p_programs.results import Notification
from g2p_programs.selectors import required_manager
from g2p_programs.services.cycles import lock_cycle
from g2p_registry_base.services import Actor, require_perm

PERM = "g2p_programs"
# Upstream MAX_BATCHES_FOR_SYNC_SEND: more batches than this are sent by a background job.
MAX_BATCHES_INLINE = 50


def payment_manager(*, program: Program) -> Any:
    """The program's active payment manager, or ``ValidationError`` (upstream's message)."""
    return required_manager(program=program, kind=ManagerKind.PAYMENT)


def _locked_approved_cycle(cycle: Cycle, message: str) -> Cycle:
    locked = lock_cycle(cycle, with_program=False)
    if locked.state != CycleState.APPROVED:
        raise ValidationError(message)
    return locked


def payments_prepare(*, cycle: Cycle, actor: Actor) -> Notification:
    """Create payments (and batches) for the approved entitlements lacking a live payment.

    Idempotent: a second run issues nothing. Queries: lock, manager, approved check, count,
    tags, one ``INSERT … SELECT`` (whatever the number of entitlements). Above the threshold
    (upstream: 200) the cycle is locked ("Prepare payments for entitlements in cycle."), a job
    prepares them in keyset chunks (filling each chunk's last batch before opening a new one)
    and upstream's sticky "Preparing Payments Asynchronously." is returned.
    """
    require_perm(actor, f"{PERM}.prepare_payments")
    with transaction.atomic():
        locked = _locked_approved_cycle(
            cycle, _("Payments can only be prepared for an approved cycle.")
        )
        manager = payment_manager(program=locked.program)
        if not locked.entitlements.filter(state=EntitlementState.APPROVED).exists():
            return Notification(
                title=_("Payment"),
                message=_("All entitlements selected are not approved!"),
                type="danger",
            )
        queued = bulk.queue_if_large(
            operation=bulk.PREPARE_PAYMENTS,
            holder=locked,
            total=manager.payable_entitlements(locked).count(),
            actor=actor,
            title=_("Payment"),
            message=_("Preparing Payments Asynchronously."),
            kind="success",
        )
        if queued:
            return queued
        payments, batches = manager.prepare_payments(locked)
    if not payments:
        return Notification(
            title=_("Payment"), message=_("There are no new payments issued!"), type="danger"
        )
    return Notification(
        title=_("Payment"),
        message=_("Payment batch successfully created for %d beneficiaries.") % payments,
        data={"payments": payments, "batches": batches},
    )


def _send(*, cycle: Cycle, batch_ids: list[int] | None, actor: Actor) -> Notification:
    require_perm(actor, f"{PERM}.send_payments")
    with transaction.atomic():
        locked = _locked_approved_cycle(
            cycle, _("Payments can only be sent for an approved cycle.")
        )
        manager = payment_manager(program=locked.program)
        concerned = manager.sendable_payments(locked, batch_ids).count()
        batches = PaymentBatch.objects.filter(cycle=locked, batch_has_started=False)
        if batch_ids is not None:
            batches = batches.filter(pk__in=batch_ids)
        if concerned > bulk.max_rows_inline() or batches.count() > MAX_BATCHES_INLINE:
            bulk.start_operation(
                operation=bulk.SEND_PAYMENTS,
                holder=locked,
                total=concerned,
                actor_id=getattr(actor, "pk", None),
                params={"batch_ids": batch_ids},
            )
            return Notification(
                title=_("Payment"),
                message=_("Sending Payments Asynchronously"),
                sticky=True,
                data={"queued": concerned},
            )
        started, sent = manager.send_payments(locked, batch_ids)
        if sent:
            notify(
                locked.program,
                "payments_sent",
                cycle=locked,
                payment_ids=Payment.objects.filter(cycle=locked, state=PaymentState.SENT),
                actor=actor,
            )
    if not started and not sent:
        return Notification(
            title=_("Payment"),
            message=_("No payment batches to process."),
            type="warning",
            sticky=True,
        )
    return Notification(
        title=_("Payment"),
        message=_("Send payments completed."),
        data={"batches": started, "payments": sent},
    )


def payments_send(*, cycle: Cycle, actor: Actor) -> Notification:
    """Send every batch of the cycle (cycle "Send Payments")."""
    return _send(cycle=cycle, batch_ids=None, actor=actor)


def payment_batches_send(*, batch_ids: Sequence[int], actor: Actor) -> Notification:
    """Send chosen batches, which must belong to one cycle (batch form "Send Payments")."""
    ids = sorted({int(i) for i in batch_ids})
    cycles = set(PaymentBatch.objects.filter(pk__in=ids).values_list("cycle_id", flat=True))
    if not cycles:
        require_perm(actor, f"{PERM}.send_payments")
        return Notification(
            title=_("Payment"),
            message=_("No payment batches to process."),
            type="warning",
            sticky=True,
        )
    if len(cycles) > 1:
        raise ValidationError(_("Send the payment batches of one cycle at a time."))
    return _send(cycle=Cycle(pk=cycles.pop()), batch_ids=ids, actor=actor)


# --- background plans ---------------------------------------------------------------------------


@bulk.planner(bulk.PREPARE_PAYMENTS)
def _plan_prepare(cycle: Cycle) -> bulk.Plan:
    """Windows over the cycle's approved cash entitlements; each chunk's statement skips those
    with a live payment, and the payments it creates advance the progress (windowing over the
    payable ones would test "no live payment" against the growing payment table per window)."""
    manager = payment_manager(program=cycle.program)

    def chunk(id_range: tuple[int, int]) -> int:
        created, _batches = manager.prepare_payments(cycle, id_range=id_range)
        return created

    return bulk.Plan(
        rows=lambda: Entitlement.objects.filter(
            cycle=cycle, state=EntitlementState.APPROVED, is_cash_entitlement=True
        ),
        chunk=chunk,
        counts_rows=True,
    )


@bulk.planner(bulk.SEND_PAYMENTS)
def _plan_send(cycle: Cycle, batch_ids: list[int] | None = None) -> bulk.Plan:
    manager = payment_manager(program=cycle.program)

    def chunk(id_range: tuple[int, int]) -> None:
        manager.send_payments(cycle, batch_ids, id_range=id_range)

    def finish(progress: Any) -> None:
        sent = Payment.objects.filter(cycle=cycle, state=PaymentState.SENT)
        if sent.exists():
            notify(
                cycle.program,
                "payments_sent",
                cycle=cycle,
                payment_ids=sent,
                actor=progress.created_by,
            )

    return bulk.Plan(
        rows=lambda: manager.sendable_payments(cycle, batch_ids), chunk=chunk, finish=finish
    )
