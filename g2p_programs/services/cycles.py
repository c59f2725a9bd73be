"""The cycle workflow: create, fill, submit, approve, distribute, end (upstream ``g2p.cycle``).

States move draft -> to_approve -> approved -> distributed -> ended, or to cancelled. Every
transition locks the cycle row (``SELECT … FOR UPDATE``), checks the state on the locked row and
the actor's permission, and either completes in one transaction or raises ``ValidationError``
with upstream's message and changes nothing. Work over beneficiaries is one SQL statement;
above :func:`g2p_programs.bulk.max_rows_inline` rows (upstream: 200) it runs as a background
job in keyset chunks instead, the cycle locked with upstream's reason meanwhile. A transition
whose work runs as a job (to approve, cancel) happens in the job's final transaction, so a
cycle never shows a state its entitlements do not have yet.
"""

from __future__ import annotations

import datetime
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
    MembershipState,
)
from g2p_programs.models import Cycle, CycleMembership, Entitlement, Program, ProgramMembership
from g2p_programs.program_managers.entitlement import CANCELLABLE
from g2p_programs.program_managers.notification import notify
from g2p_programs.queries import cycles as queries
from g2p_programs.results import Notification
from g2p_programs.selectors import required_manager
from g2p_registry_base.services import Actor, require_perm

PERM = "g2p_programs"


def lock_cycle(cycle: Cycle, *, with_program: bool = True) -> Cycle:
    """The cycle (and its program unless ``with_program`` is false) row-locked in one
    ``SELECT … FOR UPDATE``; refused with "Operation in progress: …" while a job holds either."""
    qs = Cycle.objects.select_related("program")
    qs = qs.select_for_update() if with_program else qs.select_for_update(of=("self",))
    locked = qs.get(pk=cycle.pk)
    for holder in (locked.program, locked):
        if holder.locked:
            raise ValidationError(_("Operation in progress: %s") % holder.locked_reason)
    return locked


def _ensure_draft(cycle: Cycle) -> None:
    if cycle.state != CycleState.DRAFT:
        raise ValidationError(_("The Cycle is not in draft mode"))


def _sync(instance: Cycle, fresh: Cycle) -> Cycle:
    """Copy the saved state onto the caller's object so it sees what was written."""
    for field in ("state", "approved_date", "approved_by_id", "write_date"):
        setattr(instance, field, getattr(fresh, field))
    return instance


def _actor_id(actor: Actor) -> int | None:
    return getattr(actor, "pk", None)


def _copy_candidates(cycle: Cycle) -> Any:
    """The program's enrolled, enabled beneficiaries not yet in ``cycle`` (lazy)."""
    return ProgramMembership.objects.filter(
        program_id=cycle.program_id,
        state=MembershipState.ENROLLED,
        registrant__disabled__isnull=True,
    ).exclude(registrant_id__in=CycleMembership.objects.filter(cycle=cycle).values("registrant_id"))


@bulk.planner(bulk.COPY_BENEFICIARIES)
def _plan_copy(cycle: Cycle) -> bulk.Plan:
    """Windows over the program's enrolled memberships (the membership state index); each
    chunk's statement skips disabled registrants and those already in the cycle, and its
    row count advances the progress. Windowing over the candidates themselves would evaluate
    "not yet in the cycle" against the whole, growing member list for every window."""

    def chunk(id_range: tuple[int, int]) -> int:
        return queries.insert_cycle_members_from_program(
            cycle_id=cycle.pk, program_id=cycle.program_id, id_range=id_range
        )

    return bulk.Plan(
        rows=lambda: ProgramMembership.objects.filter(
            program_id=cycle.program_id, state=MembershipState.ENROLLED
        ),
        chunk=chunk,
        counts_rows=True,
    )


def _copy_beneficiaries(cycle: Cycle, actor: Actor) -> tuple[int, bool]:
    """Copy inline, or start the job above the threshold: ``(count, queued)``. The caller
    holds the cycle row lock."""
    concerned = _copy_candidates(cycle).count()
    if concerned > bulk.max_rows_inline():
        bulk.start_operation(
            operation=bulk.COPY_BENEFICIARIES,
            holder=cycle,
            total=concerned,
            actor_id=_actor_id(actor),
        )
        return concerned, True
    if not concerned:
        return 0, False
    added = queries.insert_cycle_members_from_program(
        cycle_id=cycle.pk, program_id=cycle.program_id
    )
    return added, False


def program_create_new_cycle(*, program: Program, actor: Actor) -> tuple[Cycle, Notification]:
    """Create the program's next cycle, dated by its cycle manager, with its enrolled beneficiaries.

    The first cycle is "Cycle 1" starting at the first occurrence on or after today; each next
    one gets sequence + 1 and starts the day after the previous cycle's end. Enrolled (enabled)
    beneficiaries are copied in one ``INSERT … SELECT``; above the threshold the new cycle is
    locked ("Importing beneficiaries.") and a job copies them in chunks.
    """
    require_perm(actor, f"{PERM}.add_cycle")
    with transaction.atomic():
        program = Program.objects.select_for_update().get(pk=program.pk)
        if program.locked:
            raise ValidationError(_("Operation in progress: %s") % program.locked_reason)
        if not program.memberships.filter(state=MembershipState.ENROLLED).exists():
            raise ValidationError(
                _("No enrolled registrants. Enroll registrants to program to create new cycle.")
            )
        cycle_manager = required_manager(program=program, kind=ManagerKind.CYCLE)
        required_manager(program=program, kind=ManagerKind.PROGRAM)
        last = program.cycles.order_by("-sequence").first()
        if last is None:
            sequence, start = 1, timezone.localdate()
        else:
            sequence, start = last.sequence + 1, last.end_date + datetime.timedelta(days=1)
        try:
            start_date, end_date = cycle_manager.cycle_dates(start)
        except ValueError as exc:  # the recurrence rule cannot produce a further cycle
            raise ValidationError({"config": str(exc)}) from exc
        cycle = Cycle(
            program=program,
            name=f"Cycle {sequence}",
            sequence=sequence,
            start_date=start_date,
            end_date=end_date,
            auto_approve_entitlements=cycle_manager.auto_approve_entitlements,
        )
        cycle.save()
        added, queued = _copy_beneficiaries(cycle, actor)
    message = _("New cycle %(name)s created.") % {"name": cycle.name}
    if queued:
        return cycle, Notification(
            title=_("Cycle"),
            message=message + " " + _("Import of %d beneficiaries started.") % added,
            type="warning",
            sticky=True,
            data={"cycle_id": cycle.pk, "queued": added},
        )
    return cycle, Notification(
        title=_("Cycle"), message=message, data={"cycle_id": cycle.pk, "beneficiaries": added}
    )


def cycle_copy_beneficiaries(*, cycle: Cycle, actor: Actor) -> Notification:
    """Add the program's enrolled beneficiaries missing from a draft cycle (idempotent).

    Above the threshold: the cycle is locked ("Importing beneficiaries."), a job copies them in
    chunks and the sticky warning "Import of <n> beneficiaries started." is returned.
    """
    require_perm(actor, f"{PERM}.change_cycle")
    with transaction.atomic():
        locked = lock_cycle(cycle)
        _ensure_draft(locked)
        added, queued = _copy_beneficiaries(locked, actor)
    if queued:
        return Notification(
            title=_("Enrollment"),
            message=_("Import of %d beneficiaries started.") % added,
            type="warning",
            sticky=True,
            data={"queued": added},
        )
    if not added:
        return Notification(
            title=_("Enrollment"), message=_("No beneficiaries to import."), type="warning"
        )
    return Notification(
        title=_("Enrollment"),
        message=_("%d beneficiaries imported.") % added,
        data={"added": added},
    )


def cycle_to_approve(*, cycle: Cycle, actor: Actor) -> Notification:
    """Submit a draft cycle for approval; its draft entitlements become pending validation.

    Refused for a cycle without entitlements (upstream only hid the button).
    """
    require_perm(actor, f"{PERM}.change_cycle")
    with transaction.atomic():
        locked = lock_cycle(cycle)
        if locked.state != CycleState.DRAFT:
            raise ValidationError(_("Ony 'draft' cycles can be set for approval."))
        if not locked.entitlements.exists():
            raise ValidationError(
                _("Prepare the entitlements of this cycle before submitting it for approval.")
            )
        concerned = locked.entitlements.filter(state=EntitlementState.DRAFT).count()
        queued = bulk.queue_if_large(
            operation=bulk.SET_PENDING,
            holder=locked,
            total=concerned,
            actor=actor,
            title=_("Cycle"),
            message=_("Setting %d entitlements to pending validation started.") % concerned,
        )
        if queued:
            return queued
        pending = _set_pending(locked, None)
        locked.state = CycleState.TO_APPROVE
        locked.save(update_fields=["state", "write_date"])
    _sync(cycle, locked)
    return Notification(
        title=_("Cycle"), message=_("Cycle submitted for approval."), data={"pending": pending}
    )


def _set_pending(cycle: Cycle, id_range: tuple[int, int] | None) -> int:
    """draft -> pending_validation for the cycle's entitlements (``after < id <= upto``)."""
    qs = Entitlement.objects.filter(cycle_id=cycle.pk, state=EntitlementState.DRAFT)
    if id_range is not None:
        qs = qs.filter(pk__gt=id_range[0], pk__lte=id_range[1])
    return qs.update(state=EntitlementState.PENDING_VALIDATION)


@bulk.planner(bulk.SET_PENDING)
def _plan_set_pending(cycle: Cycle, submit: bool = True) -> bulk.Plan:
    """draft -> pending_validation chunk by chunk; with ``submit`` (the cycle's "To Approve")
    the cycle becomes to_approve at the end."""

    def rows() -> Any:
        return Entitlement.objects.filter(cycle_id=cycle.pk, state=EntitlementState.DRAFT)

    def chunk(id_range: tuple[int, int]) -> None:
        _set_pending(cycle, id_range)

    def finish(progress: Any) -> None:
        if submit:
            Cycle.objects.filter(pk=cycle.pk, state=CycleState.DRAFT).update(
                state=CycleState.TO_APPROVE, write_date=timezone.now()
            )

    return bulk.Plan(rows=rows, chunk=chunk, finish=finish)


def cycle_reset_draft(*, cycle: Cycle, actor: Actor) -> Notification:
    """Send a cycle awaiting approval back to draft (its entitlements stay pending, as upstream)."""
    require_perm(actor, f"{PERM}.change_cycle")
    with transaction.atomic():
        locked = lock_cycle(cycle)
        if locked.state != CycleState.TO_APPROVE:
            raise ValidationError(_("Ony 'to approve' cycles can be reset to draft."))
        locked.state = CycleState.DRAFT
        locked.save(update_fields=["state", "write_date"])
    _sync(cycle, locked)
    return Notification(title=_("Cycle"), message=_("Cycle reset to draft."))


def cycle_approve(*, cycle: Cycle, actor: Actor) -> Notification:
    """Approve a cycle awaiting approval.

    The actor needs the ``approve_cycle`` permission and membership of the cycle manager's
    approver role (superusers excepted). With separation of duties (the program's default), the
    user who prepared the cycle's entitlements cannot approve it.
    """
    require_perm(actor, f"{PERM}.approve_cycle")
    with transaction.atomic():
        locked = lock_cycle(cycle)
        if locked.state != CycleState.TO_APPROVE:
            raise ValidationError(_("Only 'to approve' cycles can be approved."))
        program = locked.program
        cycle_manager = required_manager(program=program, kind=ManagerKind.CYCLE)
        entitlement_manager = required_manager(program=program, kind=ManagerKind.ENTITLEMENT)
        if actor is not None and not cycle_manager.may_approve(actor):
            raise ValidationError(_("You are not allowed to approve this cycle!"))
        if (
            program.separation_of_duties
            and actor is not None
            and locked.entitlements_prepared_by_id is not None
            and locked.entitlements_prepared_by_id == actor.pk
        ):
            raise ValidationError(
                _("The user who prepared the entitlements of this cycle cannot approve it.")
            )
        locked.state = CycleState.APPROVED
        locked.approved_date = timezone.now()
        locked.approved_by_id = getattr(actor, "pk", None)
        locked.save(update_fields=["state", "approved_date", "approved_by", "write_date"])
        notify(program, "cycle_approved", cycle=locked, actor=actor)
        if cycle_manager.auto_approve_entitlements:
            result = _auto_approve_entitlements(
                cycle=locked, actor=actor, manager=entitlement_manager
            )
        else:
            result = Notification(title=_("Cycle"), message=_("Cycle %s approved.") % locked.name)
    _sync(cycle, locked)
    return result


def cycle_check_eligibility(*, cycle: Cycle, actor: Actor) -> Notification:
    """Re-check a draft cycle's beneficiaries against the program's eligibility chain.

    Members in draft / enrolled / not_eligible that pass become enrolled; the others become
    not_eligible and their entitlements in this cycle are cancelled. Three statements whatever
    the number of beneficiaries.
    """
    require_perm(actor, f"{PERM}.change_cyclemembership")
    with transaction.atomic():
        locked = lock_cycle(cycle)
        _ensure_draft(locked)
        concerned = _eligibility_checked(locked).count()
        queued = bulk.queue_if_large(
            operation=bulk.CHECK_ELIGIBILITY,
            holder=locked,
            total=concerned,
            actor=actor,
            title=_("Eligibility"),
            message=_("Eligibility check of %d beneficiaries started.") % concerned,
        )
        if queued:
            return queued
        enrolled, not_eligible = _check_eligibility(locked, None)
    return Notification(
        title=_("Eligibility"),
        message=_("%d Beneficiaries enrolled.") % enrolled,
        sticky=True,
        data={"enrolled": enrolled, "not_eligible": not_eligible},
    )


CHECKED_STATES = (
    CycleMembershipState.DRAFT,
    CycleMembershipState.ENROLLED,
    CycleMembershipState.NOT_ELIGIBLE,
)


def _eligibility_checked(cycle: Cycle) -> Any:
    return CycleMembership.objects.filter(cycle_id=cycle.pk, state__in=CHECKED_STATES)


def _check_eligibility(cycle: Cycle, id_range: tuple[int, int] | None) -> tuple[int, int]:
    """The eligibility chain over the checked members (those with ``after < id <= upto``):
    three statements. Returns (enrolled now, not eligible now)."""
    from g2p_programs.program_managers.eligibility import chain_cycle_eligible, eligibility_managers

    checked = _eligibility_checked(cycle)
    if id_range is not None:
        checked = checked.filter(pk__gt=id_range[0], pk__lte=id_range[1])
    eligible = chain_cycle_eligible(eligibility_managers(cycle.program), cycle, checked)
    enrolled = (
        checked.filter(pk__in=eligible.values("pk"))
        .exclude(state=CycleMembershipState.ENROLLED)
        .update(state=CycleMembershipState.ENROLLED)
    )
    rejected = checked.exclude(pk__in=eligible.values("pk"))
    Entitlement.objects.filter(
        cycle_id=cycle.pk, registrant_id__in=rejected.values("registrant_id")
    ).exclude(state=EntitlementState.CANCELLED).update(state=EntitlementState.CANCELLED, ern="")
    not_eligible = rejected.exclude(state=CycleMembershipState.NOT_ELIGIBLE).update(
        state=CycleMembershipState.NOT_ELIGIBLE
    )
    return enrolled, not_eligible


@bulk.planner(bulk.CHECK_ELIGIBILITY)
def _plan_check_eligibility(cycle: Cycle) -> bulk.Plan:
    def chunk(id_range: tuple[int, int]) -> None:
        _check_eligibility(cycle, id_range)

    return bulk.Plan(rows=lambda: _eligibility_checked(cycle), chunk=chunk)


def _auto_approve_entitlements(*, cycle: Cycle, actor: Actor, manager: Any) -> Notification:
    """Approve the approved cycle's entitlements as its cycle manager is configured to.

    The program's configuration authorises it, so the approver needs no entitlement permission
    (upstream); the fund check applies as for a finance validator's approval.
    """
    from g2p_programs.services.entitlements import approval_result
    from g2p_programs.services.funds import program_fund_balance

    concerned = cycle.entitlements.filter(
        state__in=[EntitlementState.DRAFT, EntitlementState.PENDING_VALIDATION]
    ).count()
    if not concerned:
        return Notification(
            title=_("Entitlements"),
            message=_("Auto-approve entitlements is set but there are no entitlements to process."),
            type="warning",
            sticky=True,
        )
    queued = bulk.queue_if_large(
        operation=bulk.APPROVE_ENTITLEMENTS,
        holder=cycle,
        total=concerned,
        actor=actor,
        title=_("Entitlements"),
        message=_("Cycle %(name)s approved. Approval of %(n)d entitlements started.")
        % {"name": cycle.name, "n": concerned},
        params={"actor_id": _actor_id(actor)},
    )
    if queued:
        return queued
    outcome = manager.approve(
        balance=program_fund_balance(program=cycle.program_id),
        approved_by_id=getattr(actor, "pk", None),
        date_approved=timezone.localdate(),
        cycle_id=cycle.pk,
    )
    if outcome.approved:
        approved = cycle.entitlements.filter(state=EntitlementState.APPROVED)
        notify(
            cycle.program,
            "entitlements_approved",
            cycle=cycle,
            entitlement_ids=approved,
            actor=actor,
        )
    return approval_result(program=cycle.program, outcome=outcome, state_errors=[])


def _mark(
    *, cycle: Cycle, actor: Actor, allowed_from: tuple[str, ...], to: str, message: str
) -> Notification:
    require_perm(actor, f"{PERM}.change_cycle")
    with transaction.atomic():
        locked = lock_cycle(cycle)
        if locked.state not in allowed_from:
            raise ValidationError(message)
        locked.state = to
        locked.save(update_fields=["state", "write_date"])
    _sync(cycle, locked)
    return Notification(
        title=_("Cycle"),
        message=_("Cycle %(name)s is %(state)s.")
        % {"name": locked.name, "state": locked.get_state_display()},
    )


def cycle_mark_distributed(*, cycle: Cycle, actor: Actor) -> Notification:
    """approved -> distributed (upstream set it unconditionally; here only from approved)."""
    return _mark(
        cycle=cycle,
        actor=actor,
        allowed_from=(CycleState.APPROVED,),
        to=CycleState.DISTRIBUTED,
        message=_("Only 'approved' cycles can be marked as distributed."),
    )


def cycle_mark_ended(*, cycle: Cycle, actor: Actor) -> Notification:
    """distributed -> ended ("Set as Ended")."""
    return _mark(
        cycle=cycle,
        actor=actor,
        allowed_from=(CycleState.DISTRIBUTED,),
        to=CycleState.ENDED,
        message=_("Only 'distributed' cycles can be ended."),
    )


def cycle_mark_cancelled(*, cycle: Cycle, actor: Actor) -> Notification:
    """draft / to_approve / approved -> cancelled, with the cycle's open entitlements.

    Above the threshold the entitlements are cancelled by a job ("Cancel entitlements for
    cycle.") and the cycle becomes cancelled when it finishes."""
    require_perm(actor, f"{PERM}.change_cycle")
    with transaction.atomic():
        locked = lock_cycle(cycle)
        if locked.state not in (CycleState.DRAFT, CycleState.TO_APPROVE, CycleState.APPROVED):
            raise ValidationError(_("Only draft, to approve or approved cycles can be cancelled."))
        concerned = _cancellable(locked).count()
        queued = bulk.queue_if_large(
            operation=bulk.CANCEL_CYCLE,
            holder=locked,
            total=concerned,
            actor=actor,
            title=_("Cycle"),
            message=_("Cancelling cycle %(name)s and its %(n)d entitlements started.")
            % {"name": locked.name, "n": concerned},
        )
        if queued:
            return queued
        cancelled = _cancellable(locked).update(state=EntitlementState.CANCELLED, ern="")
        locked.state = CycleState.CANCELLED
        locked.save(update_fields=["state", "write_date"])
    _sync(cycle, locked)
    return Notification(
        title=_("Cycle"),
        message=_("Cycle %s cancelled.") % locked.name,
        data={"entitlements_cancelled": cancelled},
    )


def _cancellable(cycle: Cycle) -> Any:
    return Entitlement.objects.filter(cycle_id=cycle.pk, state__in=CANCELLABLE)


@bulk.planner(bulk.CANCEL_CYCLE)
def _plan_cancel_cycle(cycle: Cycle) -> bulk.Plan:
    """The open entitlements cancelled chunk by chunk; the cycle becomes cancelled at the end."""

    def chunk(id_range: tuple[int, int]) -> None:
        _cancellable(cycle).filter(pk__gt=id_range[0], pk__lte=id_range[1]).update(
            state=EntitlementState.CANCELLED, ern=""
        )

    def finish(progress: Any) -> None:
        Cycle.objects.filter(
            pk=cycle.pk,
            state__in=(CycleState.DRAFT, CycleState.TO_APPROVE, CycleState.APPROVED),
        ).update(state=CycleState.CANCELLED, write_date=timezone.now())

    return bulk.Plan(rows=lambda: _cancellable(cycle), chunk=chunk, finish=finish)


def cycle_delete(*, cycle: Cycle, actor: Actor) -> None:
    """Delete a draft cycle that has neither entitlements nor beneficiaries (upstream's rules)."""
    require_perm(actor, f"{PERM}.delete_cycle")
    with transaction.atomic():
        locked = lock_cycle(cycle)
        if locked.state != CycleState.DRAFT:
            raise ValidationError(_("Once a cycle has been approved, it cannot be deleted."))
        if locked.entitlements.filter(state=EntitlementState.APPROVED).exists():
            raise ValidationError(
                _("A cycle for which entitlements have been approved cannot be deleted.")
            )
        if locked.entitlements.exists():
            raise ValidationError(
                _("Cycle cannot be deleted when Entitlements have been added to the cycle.")
            )
        if locked.memberships.exists():
            raise ValidationError(
                _("Cycle cannot be deleted when beneficiaries are present in the cycle.")
            )
        locked.delete()
