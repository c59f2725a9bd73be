"""The cycle workflow: create, fill, submit, approve, distribute, end (upstream ``g2p.cycle``).

States move draft -> to_approve -> approved -> distributed -> ended, or to cancelled. Every
transition locks the cycle row (``SELECT … FOR UPDATE``), checks the state on the locked row and
the actor's permission, and either completes in one transaction or raises ``ValidationError``
with upstream's message and changes nothing. Work over beneficiaries is one SQL statement.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from g2p_programs.choices import CycleState, EntitlementState, ManagerKind, MembershipState
from g2p_programs.models import Cycle, Entitlement, Program
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


def program_create_new_cycle(*, program: Program, actor: Actor) -> tuple[Cycle, Notification]:
    """Create the program's next cycle, dated by its cycle manager, with its enrolled beneficiaries.

    The first cycle is "Cycle 1" starting at the first occurrence on or after today; each next
    one gets sequence + 1 and starts the day after the previous cycle's end. Enrolled (enabled)
    beneficiaries are copied in one ``INSERT … SELECT``.
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
        added = queries.insert_cycle_members_from_program(cycle_id=cycle.pk, program_id=program.pk)
    return cycle, Notification(
        title=_("Cycle"),
        message=_("New cycle %(name)s created.") % {"name": cycle.name},
        data={"cycle_id": cycle.pk, "beneficiaries": added},
    )


def cycle_copy_beneficiaries(*, cycle: Cycle, actor: Actor) -> Notification:
    """Add the program's enrolled beneficiaries missing from a draft cycle (idempotent)."""
    require_perm(actor, f"{PERM}.change_cycle")
    with transaction.atomic():
        locked = lock_cycle(cycle)
        _ensure_draft(locked)
        added = queries.insert_cycle_members_from_program(
            cycle_id=locked.pk, program_id=locked.program_id
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
        pending = Entitlement.objects.filter(cycle=locked, state=EntitlementState.DRAFT).update(
            state=EntitlementState.PENDING_VALIDATION
        )
        locked.state = CycleState.TO_APPROVE
        locked.save(update_fields=["state", "write_date"])
    _sync(cycle, locked)
    return Notification(
        title=_("Cycle"), message=_("Cycle submitted for approval."), data={"pending": pending}
    )


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
    from g2p_programs.choices import CycleMembershipState
    from g2p_programs.program_managers.eligibility import chain_cycle_eligible, eligibility_managers

    require_perm(actor, f"{PERM}.change_cyclemembership")
    with transaction.atomic():
        locked = lock_cycle(cycle)
        _ensure_draft(locked)
        checked = locked.memberships.filter(
            state__in=[
                CycleMembershipState.DRAFT,
                CycleMembershipState.ENROLLED,
                CycleMembershipState.NOT_ELIGIBLE,
            ]
        )
        eligible = chain_cycle_eligible(eligibility_managers(locked.program), locked, checked)
        enrolled = (
            checked.filter(pk__in=eligible.values("pk"))
            .exclude(state=CycleMembershipState.ENROLLED)
            .update(state=CycleMembershipState.ENROLLED)
        )
        rejected = checked.exclude(pk__in=eligible.values("pk"))
        Entitlement.objects.filter(
            cycle=locked, registrant_id__in=rejected.values("registrant_id")
        ).exclude(state=EntitlementState.CANCELLED).update(state=EntitlementState.CANCELLED)
        not_eligible = rejected.exclude(state=CycleMembershipState.NOT_ELIGIBLE).update(
            state=CycleMembershipState.NOT_ELIGIBLE
        )
    return Notification(
        title=_("Eligibility"),
        message=_("%d Beneficiaries enrolled.") % enrolled,
        sticky=True,
        data={"enrolled": enrolled, "not_eligible": not_eligible},
    )


def _auto_approve_entitlements(*, cycle: Cycle, actor: Actor, manager: Any) -> Notification:
    """Approve the approved cycle's entitlements as its cycle manager is configured to.

    The program's configuration authorises it, so the approver needs no entitlement permission
    (upstream); the fund check applies as for a finance validator's approval.
    """
    from g2p_programs.services.entitlements import approval_result
    from g2p_programs.services.funds import program_fund_balance

    if not cycle.entitlements.filter(
        state__in=[EntitlementState.DRAFT, EntitlementState.PENDING_VALIDATION]
    ).exists():
        return Notification(
            title=_("Entitlements"),
            message=_("Auto-approve entitlements is set but there are no entitlements to process."),
            type="warning",
            sticky=True,
        )
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
    """draft / to_approve / approved -> cancelled, with the cycle's open entitlements."""
    require_perm(actor, f"{PERM}.change_cycle")
    with transaction.atomic():
        locked = lock_cycle(cycle)
        if locked.state not in (CycleState.DRAFT, CycleState.TO_APPROVE, CycleState.APPROVED):
            raise ValidationError(_("Only draft, to approve or approved cycles can be cancelled."))
        cancelled = Entitlement.objects.filter(
            cycle=locked,
            state__in=[
                EntitlementState.DRAFT,
                EntitlementState.PENDING_VALIDATION,
                EntitlementState.APPROVED,
            ],
        ).update(state=EntitlementState.CANCELLED)
        locked.state = CycleState.CANCELLED
        locked.save(update_fields=["state", "write_date"])
    _sync(cycle, locked)
    return Notification(
        title=_("Cycle"),
        message=_("Cycle %s cancelled.") % locked.name,
        data={"entitlements_cancelled": cancelled},
    )


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
