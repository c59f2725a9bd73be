"""The entitlement workflow: prepare, submit, approve against the fund, cancel.

Upstream: cycle buttons "Prepare Entitlement" / "Approve Entitlement", the entitlement form's
"Approve Entitlement" and the multi-approval wizard, all delegating to the program's
entitlement manager (:mod:`g2p_programs.program_managers.entitlement`).

Every service checks the actor's permission, locks the cycle (and the program when money is
involved) with ``SELECT … FOR UPDATE``, checks states on the locked rows and runs a fixed number
of queries whatever the number of beneficiaries. Refusals raise ``ValidationError`` with
upstream's message and change nothing.

Approval decisions (documented divergences from upstream):

- The fund balance is computed ONCE per call, under the program row lock (so two approvals of
  one program queue instead of both spending the same balance), and the candidates are approved
  in id order while their running total fits — one ``UPDATE`` with a window function.
- Like upstream, when the fund runs short the entitlements that fit stay approved and the
  result is a *danger* notification "The fund for the program: <name> [<available>] is
  insufficient for the entitlement: <code>" naming the first one that does not fit.
- Entitlements are approved only in an *approved* cycle (upstream only hid the button).
- Segregation of duties (``Program.separation_of_duties``, beyond upstream): the user who
  prepared a cycle's entitlements cannot approve them.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from g2p_programs import bulk
from g2p_programs.choices import (
    CycleMembershipState,
    CycleState,
    EntitlementState,
    ManagerKind,
)
from g2p_programs.models import Cycle, Entitlement, Program
from g2p_programs.program_managers.entitlement import APPROVABLE, CANCELLABLE
from g2p_programs.program_managers.notification import notify
from g2p_programs.queries.entitlements import ApprovalOutcome
from g2p_programs.results import Notification
from g2p_programs.selectors import required_manager
from g2p_programs.services.cycles import lock_cycle
from g2p_programs.services.funds import program_fund_balance
from g2p_registry_base.services import Actor, require_perm
from pbms.services import job_progress_advance

PERM = "g2p_programs"


def entitlement_manager(*, program: Program) -> Any:
    """The program's active entitlement manager, or ``ValidationError`` (upstream's message)."""
    return required_manager(program=program, kind=ManagerKind.ENTITLEMENT)


def _actor_id(actor: Actor) -> int | None:
    return getattr(actor, "pk", None)


def _check_separation(*, program: Program, prepared_by_ids: set[int | None], actor: Actor) -> None:
    actor_id = _actor_id(actor)
    if program.separation_of_duties and actor_id is not None and actor_id in prepared_by_ids:
        raise ValidationError(
            _("The user who prepared the entitlements of this cycle cannot approve them.")
        )


def entitlements_prepare(*, cycle: Cycle, actor: Actor) -> Notification:
    """Create the draft entitlements of a draft cycle's enrolled members lacking one.

    Idempotent (a re-run creates none). Records the actor as the cycle's preparer when it
    created any. Queries: lock, manager, one count, one ``INSERT … SELECT``, one ``UPDATE``.
    Above ``bulk.max_rows_inline()`` enrolled members (upstream: 200) the cycle is locked
    ("Prepare entitlement for beneficiaries."), the ``entitlements_prepare_run`` job is
    enqueued in this transaction and a sticky warning "Preparing entitlements of <n>
    beneficiaries started." is returned (upstream returned nothing).
    """
    require_perm(actor, f"{PERM}.prepare_entitlements")
    with transaction.atomic():
        locked = lock_cycle(cycle)
        if locked.state != CycleState.DRAFT:
            raise ValidationError(_("The Cycle is not in draft mode"))
        manager = entitlement_manager(program=locked.program)
        concerned = locked.memberships.filter(state=CycleMembershipState.ENROLLED).count()
        if concerned > bulk.max_rows_inline():
            from g2p_programs.jobs import entitlements_prepare_run

            bulk.start(
                operation=bulk.PREPARE_ENTITLEMENTS,
                holder=locked,
                total=concerned,
                actor_id=_actor_id(actor),
                task=entitlements_prepare_run,
                cycle_id=locked.pk,
            )
            return Notification(
                title=_("Entitlement"),
                message=_("Preparing entitlements of %d beneficiaries started.") % concerned,
                type="warning",
                sticky=True,
                data={"queued": concerned},
            )
        created = manager.prepare_entitlements(locked)
        if created:
            Cycle.objects.filter(pk=locked.pk).update(
                entitlements_prepared_by_id=_actor_id(actor), write_date=timezone.now()
            )
            cycle.entitlements_prepared_by_id = _actor_id(actor)
    return Notification(
        title=_("Entitlement"),
        message=_("%d entitlements prepared.") % created,
        data={"created": created},
    )


def entitlements_set_pending(*, cycle: Cycle, actor: Actor) -> int:
    """draft -> pending_validation for the cycle's entitlements (upstream's "To Approve" step,
    without the cycle transition). Returns the count; above the threshold a job does it
    ("Set entitlements to pending validation for cycle.") and the count queued is returned."""
    require_perm(actor, f"{PERM}.change_entitlement")
    with transaction.atomic():
        locked = lock_cycle(cycle)
        manager = entitlement_manager(program=locked.program)
        concerned = locked.entitlements.filter(state=EntitlementState.DRAFT).count()
        if concerned > bulk.max_rows_inline():
            bulk.start_operation(
                operation=bulk.SET_PENDING,
                holder=locked,
                total=concerned,
                actor_id=_actor_id(actor),
                params={"submit": False},
            )
            return concerned
        return int(manager.set_pending_validation(locked))


def approval_result(
    *, program: Program, outcome: ApprovalOutcome, state_errors: list[str]
) -> Notification:
    """Upstream's notification for an approval run (insufficient fund, state errors, success)."""
    data = {"approved": outcome.approved, "approved_total": outcome.approved_total}
    if outcome.unfunded_code is not None:
        message = _(
            "The fund for the program: %(program)s [%(available).2f] is insufficient for the "
            "entitlement: %(code)s"
        ) % {
            "program": program.name,
            "available": outcome.available_at_unfunded,
            "code": outcome.unfunded_code,
        }
        return Notification(title=_("Entitlement"), message=message, type="danger", data=data)
    if state_errors:
        message = _("Entitlement State Error! Entitlements not in 'pending validation' state:\n")
        message += "".join(state_errors)
        return Notification(
            title=_("Entitlement"),
            message=message,
            type="danger",
            data={**data, "errors": len(state_errors)},
        )
    return Notification(
        title=_("Entitlement"),
        message=_("%d Entitlements are successfully approved.") % outcome.approved,
        sticky=True,
        data=data,
    )


def entitlements_approve(*, cycle: Cycle, actor: Actor) -> Notification:
    """Approve the draft / pending entitlements of an approved cycle within the fund balance.

    Upstream ``validate_entitlements``. Queries: lock (cycle + program), manager, count,
    balance, one ``UPDATE`` — the same for 10 or 200 entitlements. Above the threshold the cycle
    is locked ("Validate and approve entitlements for cycle.") and a job approves them chunk by
    chunk, each chunk under the program row lock with the balance recomputed, stopping at the
    first entitlement the fund cannot cover (as the inline path); its progress then ends with
    upstream's insufficient-fund message and counts the entitlements left unapproved as errors.
    """
    require_perm(actor, f"{PERM}.approve_entitlement")
    with transaction.atomic():
        locked = lock_cycle(cycle)
        if locked.state != CycleState.APPROVED:
            raise ValidationError(_("Entitlements can only be approved in an approved cycle."))
        _check_separation(
            program=locked.program,
            prepared_by_ids={locked.entitlements_prepared_by_id},
            actor=actor,
        )
        manager = entitlement_manager(program=locked.program)
        concerned = locked.entitlements.filter(state__in=APPROVABLE).count()
        queued = bulk.queue_if_large(
            operation=bulk.APPROVE_ENTITLEMENTS,
            holder=locked,
            total=concerned,
            actor=actor,
            title=_("Entitlement"),
            message=_("Approval of %d entitlements started.") % concerned,
            params={"actor_id": _actor_id(actor)},
        )
        if queued:
            return queued
        outcome = manager.approve(
            balance=program_fund_balance(program=locked.program_id),
            approved_by_id=_actor_id(actor),
            date_approved=timezone.localdate(),
            cycle_id=locked.pk,
        )
        if outcome.approved:
            notify(
                locked.program,
                "entitlements_approved",
                cycle=locked,
                entitlement_ids=locked.entitlements.filter(state=EntitlementState.APPROVED),
                actor=actor,
            )
    return approval_result(program=locked.program, outcome=outcome, state_errors=[])


def entitlement_approve_selected(*, entitlement_ids: Sequence[int], actor: Actor) -> Notification:
    """Approve chosen entitlements (entitlement form button, multi-approval wizard).

    All must belong to one program. Those not in draft / pending validation are reported as
    upstream's "Entitlement State Error!" (one line per record) while the others are approved.
    Queries: one read of the selection, program lock, manager, balance, one ``UPDATE``.
    """
    require_perm(actor, f"{PERM}.approve_entitlement")
    ids = sorted({int(i) for i in entitlement_ids})
    if not ids:
        raise ValidationError(_("There are no selected entitlements!"))
    with transaction.atomic():
        rows = list(
            Entitlement.objects.filter(pk__in=ids)
            .order_by("pk")
            .values_list(
                "pk",
                "state",
                "program_id",
                "program__name",
                "registrant__name",
                "cycle__state",
                "cycle__entitlements_prepared_by_id",
            )
        )
        if len({r[2] for r in rows}) > 1:
            raise ValidationError(
                _(
                    "You can approve any number of entitlement cycles only from a specific "
                    "program at a time"
                )
            )
        if len(rows) != len(ids):
            raise ValidationError(_("Some selected entitlements do not exist."))
        program = Program.objects.select_for_update().get(pk=rows[0][2])
        if program.locked:
            raise ValidationError(_("Operation in progress: %s") % program.locked_reason)
        approvable = [r for r in rows if r[1] in APPROVABLE]
        if any(r[5] != CycleState.APPROVED for r in approvable):
            raise ValidationError(_("Entitlements can only be approved in an approved cycle."))
        _check_separation(program=program, prepared_by_ids={r[6] for r in approvable}, actor=actor)
        state_errors = [
            _("Program: %(program)s, Beneficiary: %(name)s.\n") % {"program": r[3], "name": r[4]}
            for r in rows
            if r[1] not in APPROVABLE
        ]
        manager = entitlement_manager(program=program)
        outcome = manager.approve(
            balance=program_fund_balance(program=program.pk),
            approved_by_id=_actor_id(actor),
            date_approved=timezone.localdate(),
            entitlement_ids=[r[0] for r in approvable],
        )
    return approval_result(program=program, outcome=outcome, state_errors=state_errors)


def entitlements_cancel(*, cycle: Cycle, actor: Actor) -> Notification:
    """draft / pending / approved -> cancelled for the cycle (their amounts return to the fund).

    Above the threshold a job does it ("Cancel entitlements for cycle.")."""
    require_perm(actor, f"{PERM}.change_entitlement")
    with transaction.atomic():
        locked = lock_cycle(cycle)
        manager = entitlement_manager(program=locked.program)
        concerned = locked.entitlements.filter(state__in=CANCELLABLE).count()
        queued = bulk.queue_if_large(
            operation=bulk.CANCEL_ENTITLEMENTS,
            holder=locked,
            total=concerned,
            actor=actor,
            title=_("Entitlement"),
            message=_("Cancelling %d entitlements started.") % concerned,
        )
        if queued:
            return queued
        cancelled = manager.cancel(locked)
    return Notification(
        title=_("Entitlement"),
        message=_("Entitlements Cancelled."),
        data={"cancelled": cancelled},
    )


def entitlements_expire(*, today: datetime.date, actor: Actor) -> int:
    """Approved entitlements whose validity ended before ``today`` become expired and lose their
    ERN (upstream's daily clean-up; run by the ``entitlements_expire`` periodic job). One
    ``UPDATE`` over ``entitlement_program_state_idx``; a second run the same day changes none.
    Returns the number expired."""
    if actor is not None:
        require_perm(actor, f"{PERM}.change_entitlement")
    with transaction.atomic():
        return Entitlement.objects.filter(
            state=EntitlementState.APPROVED, valid_until__lt=today
        ).update(state=EntitlementState.EXPIRED, ern="")


# --- background plans ---------------------------------------------------------------------------


def _cycle_entitlements(cycle: Cycle, states: Sequence[str]) -> Any:
    return Entitlement.objects.filter(cycle_id=cycle.pk, state__in=states)


@bulk.planner(bulk.APPROVE_ENTITLEMENTS)
def _plan_approve(cycle: Cycle, actor_id: int | None = None) -> bulk.Plan:
    """Approve chunk by chunk; each chunk locks the program row and recomputes the balance, so
    concurrent approvals of other cycles of the program queue behind it. Stops at the first
    entitlement the fund cannot cover."""
    manager = entitlement_manager(program=cycle.program)
    state: dict[str, Any] = {"unfunded": None}  # the first chunk that ran short

    def chunk(id_range: tuple[int, int]) -> bool:
        Program.objects.select_for_update().filter(pk=cycle.program_id).first()
        outcome = manager.approve(
            balance=program_fund_balance(program=cycle.program_id),
            approved_by_id=actor_id,
            date_approved=timezone.localdate(),
            cycle_id=cycle.pk,
            id_range=id_range,
        )
        if outcome.unfunded_code is not None:
            state["unfunded"] = outcome
            return False
        return True

    def finish(progress: Any) -> str | None:
        approved = cycle.entitlements.filter(state=EntitlementState.APPROVED)
        if approved.exists():
            notify(
                cycle.program,
                "entitlements_approved",
                cycle=cycle,
                entitlement_ids=approved,
                actor=progress.created_by,
            )
        outcome = state["unfunded"]
        if outcome is None:
            return None
        left = _cycle_entitlements(cycle, APPROVABLE).count()
        job_progress_advance(job_id=progress.pk, errors=left)
        return approval_result(program=cycle.program, outcome=outcome, state_errors=[]).message

    return bulk.Plan(
        rows=lambda: _cycle_entitlements(cycle, APPROVABLE), chunk=chunk, finish=finish
    )


@bulk.planner(bulk.CANCEL_ENTITLEMENTS)
def _plan_cancel(cycle: Cycle) -> bulk.Plan:
    manager = entitlement_manager(program=cycle.program)

    def chunk(id_range: tuple[int, int]) -> None:
        manager.cancel(cycle, id_range=id_range)

    return bulk.Plan(rows=lambda: _cycle_entitlements(cycle, CANCELLABLE), chunk=chunk)
