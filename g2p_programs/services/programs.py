"""Writes on programs and their memberships (upstream ``g2p.program`` buttons and the "Add to
Program" wizard).

Every service is keyword-only, checks the actor's permission (``actor=None`` = the system), runs
in one transaction and returns a :class:`~g2p_programs.results.Notification` with upstream's
title and message, or raises ``ValidationError`` with upstream's message and changes nothing.
Work over beneficiaries is a fixed number of set-based statements whatever the program size
(upstream switched to queue jobs above 200 rows). Enrolment over more than
:func:`g2p_programs.bulk.max_rows_inline` memberships runs as a background job instead: the
program is locked and the same statements run per keyset chunk (:mod:`g2p_programs.jobs`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from g2p_programs import bulk
from g2p_programs.choices import (
    DuplicateState,
    ManagerKind,
    MembershipState,
    ProgramState,
    TargetType,
)
from g2p_programs.models import DuplicateGroup, ManagerAssignment, Program, ProgramMembership
from g2p_programs.program_managers.deduplication import DEDUP_STATES, deduplication_managers
from g2p_programs.program_managers.eligibility import chain_eligible, eligibility_managers
from g2p_programs.program_managers.notification import notify
from g2p_programs.program_managers.program import STATES_KEPT_BY_ENROLMENT, ProgramManager
from g2p_programs.queries import programs as queries
from g2p_programs.registry import registry
from g2p_programs.results import Notification
from g2p_programs.selectors import required_manager
from g2p_registry_base.models import Registrant
from g2p_registry_base.services import Actor, require_perm, validation_error_from_db

PERM = "g2p_programs"

# (kind, key) of the managers a new program gets when that key is registered (upstream's
# MANAGER_MODELS plus what its create-program wizard adds).
DEFAULT_MANAGERS = (
    (ManagerKind.PROGRAM, "default"),
    (ManagerKind.ELIGIBILITY, "default"),
    (ManagerKind.DEDUPLICATION, "default"),
    (ManagerKind.NOTIFICATION, "log"),
    (ManagerKind.CYCLE, "default"),
    (ManagerKind.ENTITLEMENT, "default"),
    (ManagerKind.PAYMENT, "default"),
)


def _locked(program: Program) -> Program:
    locked = Program.objects.select_for_update().get(pk=program.pk)
    if locked.locked:
        raise ValidationError(_("Operation in progress: %s") % locked.locked_reason)
    return locked


def _program_manager(program: Program) -> ProgramManager:
    return required_manager(program=program, kind=ManagerKind.PROGRAM)  # type: ignore[no-any-return]


# --- programs ----------------------------------------------------------------------------------


def program_create(
    *,
    name: str,
    target_type: str = TargetType.GROUP,
    currency: str,
    eligibility_domain: str = "[]",
    description: str = "",
    actor: Actor,
) -> Program:
    """Create a program with its default managers.

    Upstream created the program, deduplication, notification and payment managers on every
    program and the wizard added eligibility (with ``eligibility_domain``), cycle and
    entitlement ones. Here each manager of :data:`DEFAULT_MANAGERS` is created only when its key
    is registered at call time (add-on kinds register theirs in ``ready()``); the notification
    default is ``"log"`` (upstream's SMS stub did nothing). A bad domain is refused naming
    ``config`` / ``eligibility_domain``, and nothing is created.
    """
    require_perm(actor, f"{PERM}.add_program", f"{PERM}.add_managerassignment")
    try:
        with transaction.atomic():
            program = Program(
                name=(name or "").strip(),
                target_type=target_type,
                currency=currency,
                description=description,
            )
            program.save()
            for kind, key in DEFAULT_MANAGERS:
                if key not in registry.keys(kind):
                    continue
                config: dict[str, Any] = {}
                if kind == ManagerKind.ELIGIBILITY:
                    config = {"eligibility_domain": eligibility_domain or "[]"}
                ManagerAssignment(
                    program=program, kind=kind, manager_key=key, name="Default", config=config
                ).save()
    except IntegrityError as exc:
        raise validation_error_from_db(exc) from exc
    return program


def program_end(*, program: Program, actor: Actor) -> Program:
    """active -> ended, ``date_ended`` today; otherwise "Ony 'active' programs can be ended."
    (upstream's spelling)."""
    require_perm(actor, f"{PERM}.change_program")
    with transaction.atomic():
        locked = Program.objects.select_for_update().get(pk=program.pk)
        if locked.state != ProgramState.ACTIVE:
            raise ValidationError(_("Ony 'active' programs can be ended."))
        locked.state = ProgramState.ENDED
        locked.date_ended = timezone.localdate()
        locked.save()
    program.state, program.date_ended = locked.state, locked.date_ended
    return program


def program_reactivate(*, program: Program, actor: Actor) -> Program:
    """ended -> active, clears ``date_ended``; otherwise "Ony 'ended' programs can be
    re-activated." (upstream's spelling)."""
    require_perm(actor, f"{PERM}.change_program")
    with transaction.atomic():
        locked = Program.objects.select_for_update().get(pk=program.pk)
        if locked.state != ProgramState.ENDED:
            raise ValidationError(_("Ony 'ended' programs can be re-activated."))
        locked.state = ProgramState.ACTIVE
        locked.date_ended = None
        locked.save()
    program.state, program.date_ended = locked.state, locked.date_ended
    return program


# --- adding registrants --------------------------------------------------------------------------


def program_add_registrants(
    *,
    program: Program,
    registrant_ids: Sequence[int] | None = None,
    registrants: QuerySet[Registrant] | None = None,
    actor: Actor,
) -> Notification:
    """Upstream's "Add to Program" wizard: draft memberships for the selected registrants.

    The selection is ``registrant_ids`` or, for a selection of any size (a whole filtered
    registry list), the queryset ``registrants``, which is read inside the statements and never
    loaded. Already members are counted as existing; disabled registrants are skipped (not
    counted); registrants of the other kind (or not ``is_registrant``) are counted as ignored.
    One aggregate query classifies the selection, one ``INSERT … SELECT … ON CONFLICT DO
    NOTHING`` adds the rest (plus one query for the name when a single registrant is selected).
    Beyond upstream: only active programs accept registrants (its picker only offered those).
    """
    require_perm(actor, f"{PERM}.add_programmembership")
    if (registrant_ids is None) == (registrants is None):
        raise ValueError("pass exactly one of registrant_ids and registrants")
    if registrants is None:
        ids = sorted({int(i) for i in registrant_ids or []})
        selection = Registrant.objects.filter(pk__any=ids)
    else:
        selection = Registrant.objects.filter(pk__in=registrants.order_by().values("pk"))
        ids = []
    is_group = program.target_type == TargetType.GROUP
    with transaction.atomic():
        program = _locked(program)
        if registrants is None and not ids:
            raise ValidationError(_("There are no selected registrants!"))
        if program.state != ProgramState.ACTIVE or not program.active:
            raise ValidationError(_("Registrants can only be added to an active program."))
        members = ProgramMembership.objects.filter(program=program).values("registrant_id")
        is_member = Q(pk__in=members.filter(registrant_id__in=selection.values("pk")))
        stats = selection.aggregate(
            n_selected=Count("pk"),
            n_existing=Count("pk", filter=is_member),
            n_disabled=Count("pk", filter=~is_member & Q(disabled__isnull=False)),
            n_disabled_groups=Count(
                "pk", filter=~is_member & Q(disabled__isnull=False, is_group=True)
            ),
            n_wrong=Count(
                "pk",
                filter=~is_member
                & Q(disabled__isnull=True)
                & (~Q(is_group=is_group) | Q(is_registrant=False)),
            ),
        )
        if not stats["n_selected"]:
            raise ValidationError(_("There are no selected registrants!"))
        new = queries.insert_program_memberships_from(
            program_id=program.pk,
            registrants=selection.filter(
                disabled__isnull=True, is_registrant=True, is_group=is_group
            ),
            state=MembershipState.DRAFT,
            since=timezone.now(),
        )
    # upstream's counters: ctr = selected non-members not disabled; ig_ctr = members + wrong kind.
    # Upstream's total (ctr + ig_ctr) counted a wrong-kind registrant twice; the total here is
    # every selected registrant that is not disabled.
    existing, wrong = stats["n_existing"], stats["n_wrong"]
    disabled_nonmembers = stats["n_disabled"]
    ctr = new + wrong
    ig_ctr = existing + wrong
    title = _("Program")
    if stats["n_selected"] == 1:
        registrant = selection.only("name", "is_group", "disabled").get()
        if registrant.disabled and registrant.is_group:
            return Notification(title, _("Disabled group can't be added to the program."), "danger")
        if registrant.disabled:
            return Notification(
                title, _("Disabled individaul can't be added to the program."), "danger"
            )
        params = {"registrant": registrant.name, "program": program.name}
        if ig_ctr:
            return Notification(
                title, _("%(registrant)s was already in the Program %(program)s") % params, "danger"
            )
        return Notification(
            title, _("%(registrant)s is added to the Program %(program)s") % params, "warning"
        )
    if not ctr and disabled_nonmembers:
        if stats["n_disabled_groups"] == disabled_nonmembers:
            message = _("Disabled group(s) can't be added to the program %s") % program.name
        else:
            message = _("Disabled Individual(s) can't be added to the program %s") % program.name
        return Notification(title, message, "danger")
    if not ctr:
        return Notification(
            title, _("Registrant's was already in the Program %s") % program.name, "danger"
        )
    message = _(
        "Total registrants:%(total)s, Already in program:%(existing)s, Newly added:%(new)s"
    ) % {"total": ctr + existing, "existing": ig_ctr, "new": new}
    return Notification(title, message, "warning")


# --- enrolment -----------------------------------------------------------------------------------


def _enroll(program: Program, states: Sequence[str] | None, actor: Actor) -> Notification:
    manager = _program_manager(program)
    if not ManagerAssignment.objects.filter(
        program=program, kind=ManagerKind.ELIGIBILITY, active=True
    ).exists():
        raise ValidationError(_("No Eligibility Manager defined."))
    concerned = manager.memberships(states).count()
    if concerned > bulk.max_rows_inline():
        from g2p_programs.jobs import program_enroll_run

        bulk.start(
            operation=bulk.ENROL,
            holder=program,
            total=concerned,
            actor_id=getattr(actor, "pk", None),
            task=program_enroll_run,
            program_id=program.pk,
            states=list(states) if states else None,
        )
        return Notification(
            _("Enrollment"),
            _("Eligibility check of %s beneficiaries started.") % concerned,
            "warning",
            sticky=True,
            data={"queued": concerned},
        )
    result = manager.enroll_eligible(states=states, actor=actor)
    counts = ProgramMembership.objects.filter(program=program).aggregate(
        total=Count("pk"),
        enrolled=Count("pk", filter=Q(state=MembershipState.ENROLLED)),
        not_eligible=Count("pk", filter=Q(state=MembershipState.NOT_ELIGIBLE)),
    )
    if result.enrolled:
        newly = ProgramMembership.objects.filter(
            program=program, state=MembershipState.ENROLLED, enrollment_date=result.since
        )
        notify(program, "enrolled", membership_ids=newly, actor=actor)
    if counts["total"] == counts["enrolled"] and not result.enrolled:
        message = _("No new beneficiaries enrolled.")
    else:
        message = _(
            "Enrolled Beneficiaries: %(enrolled)s successfully and %(not_enrolled)s unsuccessfully."
        ) % {"enrolled": result.enrolled, "not_enrolled": counts["not_eligible"]}
    return Notification(
        _("Enrollment"),
        message,
        "success",
        data={"enrolled": result.enrolled, "not_eligible": result.not_eligible},
    )


def program_enroll_eligible(*, program: Program, actor: Actor) -> Notification:
    """Upstream "Enroll Eligible Registrants": every membership through the eligibility chain.

    Refusals, in upstream's order: "No Registrants Added to Program", "No Program Manager
    defined.", "No Eligibility Manager defined." (at program level upstream refuses when no
    eligibility manager is configured, whereas a single membership's "Enroll" treats an empty
    chain as eligible — both reproduced). Duplicated, paused and exited memberships are left as
    they are (upstream re-enrolled them; see :mod:`g2p_programs.program_managers.program`).
    Queries: a fixed handful (lock, checks, 1 count, 2 UPDATEs, 1 aggregate, notification).
    Above ``bulk.max_rows_inline()`` memberships the program is locked ("Eligibility check of
    beneficiaries"), the ``program_enroll_run`` job is enqueued in this transaction and the
    sticky warning "Eligibility check of <n> beneficiaries started." is returned.
    """
    require_perm(actor, f"{PERM}.change_programmembership")
    with transaction.atomic():
        program = _locked(program)
        if not ProgramMembership.objects.filter(program=program).exists():
            raise ValidationError(_("No Registrants Added to Program"))
        return _enroll(program, None, actor)


def program_verify_eligibility(*, program: Program, actor: Actor) -> Notification:
    """Upstream "Verify eligibility": re-check enrolled and not_eligible memberships only."""
    require_perm(actor, f"{PERM}.change_programmembership")
    with transaction.atomic():
        program = _locked(program)
        return _enroll(program, [MembershipState.ENROLLED, MembershipState.NOT_ELIGIBLE], actor)


def membership_enroll(*, membership: ProgramMembership, actor: Actor) -> Notification | None:
    """The membership's "Enroll" button: the eligibility chain over this one membership.

    Eligible and not enrolled -> enrolled, "1 Beneficiaries enrolled."; already enrolled ->
    None (upstream returns nothing); not eligible -> not_eligible and the warning "beneficiary is
    not eligible". With no eligibility manager the membership is eligible (upstream). Duplicated,
    paused and exited memberships are refused: they change through their own workflow.
    """
    require_perm(actor, f"{PERM}.change_programmembership")
    with transaction.atomic():
        locked = (
            ProgramMembership.objects.select_for_update()
            .select_related("program")
            .get(pk=membership.pk)
        )
        if locked.state in STATES_KEPT_BY_ENROLMENT:
            raise ValidationError(
                _("A %(state)s membership cannot be enrolled; set it back to draft first.")
                % {"state": locked.get_state_display()}
            )
        program = locked.program
        single = ProgramMembership.objects.filter(pk=locked.pk)
        is_eligible = chain_eligible(eligibility_managers(program), single).exists()
        now = timezone.now()
        if not is_eligible:
            single.update(state=MembershipState.NOT_ELIGIBLE, write_date=now)
            membership.state = MembershipState.NOT_ELIGIBLE
            return Notification(_("Enrollment"), _("beneficiary is not eligible"), "warning")
        if locked.state == MembershipState.ENROLLED:
            return None
        single.update(state=MembershipState.ENROLLED, enrollment_date=now, write_date=now)
        membership.state, membership.enrollment_date = MembershipState.ENROLLED, now
        notify(program, "enrolled", membership_ids=single, actor=actor)
        return Notification(_("Enrollment"), _("%s Beneficiaries enrolled.") % 1, "success")


def membership_back_to_draft(*, membership: ProgramMembership, actor: Actor) -> ProgramMembership:
    """Upstream "Back to draft" (not_eligible / duplicated -> draft). Upstream only hid the
    button in other states; here they are refused."""
    require_perm(actor, f"{PERM}.change_programmembership")
    with transaction.atomic():
        updated = ProgramMembership.objects.filter(
            pk=membership.pk,
            state__in=[MembershipState.NOT_ELIGIBLE, MembershipState.DUPLICATED],
        ).update(state=MembershipState.DRAFT, write_date=timezone.now())
        if not updated:
            raise ValidationError(
                _("Only Not Eligible or Duplicated memberships can be set back to draft.")
            )
    membership.state = MembershipState.DRAFT
    return membership


# --- deduplication -------------------------------------------------------------------------------


def program_deduplicate(*, program: Program, actor: Actor) -> Notification:
    """Upstream "Deduplicate": every active deduplication manager over the memberships in
    draft / enrolled / paused / duplicated; their counts are summed.

    "No Deduplication Manager defined." when none; else "<n> Instances of Beneficiaries
    duplicate." (warning) or "No duplicates found." (success), title "Deduplication". One
    statement per manager. Above the threshold the program is locked ("Deduplication of
    beneficiaries") and the same statements run in a background job, whose progress ends with
    the same message.
    """
    return _deduplicate(program=program, actor=actor, manager_id=None)


def manager_deduplicate(*, assignment: ManagerAssignment, actor: Actor) -> Notification:
    """One deduplication manager's run (upstream ``deduplicate_beneficiaries`` of a single
    manager): as :func:`program_deduplicate`, with only this manager; ``data["found"]`` is its
    count. Refused for an inactive manager or one of another kind."""
    if assignment.kind != ManagerKind.DEDUPLICATION or not assignment.active:
        raise ValidationError(_("Only an active deduplication manager can deduplicate."))
    return _deduplicate(program=assignment.program, actor=actor, manager_id=assignment.pk)


def _deduplicate(*, program: Program, actor: Actor, manager_id: int | None) -> Notification:
    require_perm(actor, f"{PERM}.change_programmembership", f"{PERM}.add_duplicategroup")
    with transaction.atomic():
        program = _locked(program)
        managers = _dedup_managers(program, manager_id)
        if not managers:
            raise ValidationError(_("No Deduplication Manager defined."))
        concerned = _dedup_rows(program).count()
        queued = bulk.queue_if_large(
            operation=bulk.DEDUPLICATE,
            holder=program,
            total=concerned,
            actor=actor,
            title=_("Deduplication"),
            message=_("Deduplication of %s beneficiaries started.") % concerned,
            params={"manager_id": manager_id} if manager_id is not None else None,
        )
        return queued or _dedup_result(managers)


def _dedup_managers(program: Program, manager_id: int | None) -> list[Any]:
    managers = deduplication_managers(program)
    if manager_id is None:
        return managers
    return [m for m in managers if getattr(m.assignment, "pk", None) == manager_id]


def _dedup_rows(program: Program) -> Any:
    return ProgramMembership.objects.filter(program_id=program.pk, state__in=DEDUP_STATES)


def _dedup_result(managers: list[Any]) -> Notification:
    found = sum(m.deduplicate(DEDUP_STATES) for m in managers)
    data = {
        "found": found,
        "marked": sum(m.last_outcome.marked for m in managers if m.last_outcome),
        "groups_created": sum(m.last_outcome.groups_created for m in managers if m.last_outcome),
    }
    if found:
        return Notification(
            _("Deduplication"),
            _("%s Instances of Beneficiaries duplicate.") % found,
            "warning",
            data=data,
        )
    return Notification(_("Deduplication"), _("No duplicates found."), "success", data=data)


@bulk.planner(bulk.DEDUPLICATE)
def _plan_deduplicate(program: Program, manager_id: int | None = None) -> bulk.Plan:
    """Every deduplication manager's one statement (or only ``manager_id``'s) over the whole
    program, in the job: keys are compared across all memberships, so the work is not split by
    id."""
    outcome: dict[str, Notification] = {}

    def chunk(id_range: tuple[int, int]) -> None:
        outcome["result"] = _dedup_result(_dedup_managers(program, manager_id))

    def finish(progress: Any) -> str | None:
        result = outcome.get("result")
        return result.message if result is not None else None

    return bulk.Plan(
        rows=lambda: _dedup_rows(program), chunk=chunk, finish=finish, single_chunk=True
    )


def duplicate_clear(*, duplicate_group: DuplicateGroup, actor: Actor) -> int:
    """An officer clears a false match: the group becomes not_duplicate and its duplicated
    memberships go back to draft (upstream "Back to draft"), except those still listed in
    another open duplicate group. A later deduplication run does not flag the same set again
    (see :mod:`g2p_programs.program_managers.deduplication`). Returns the memberships reset;
    refuses a group that is already cleared.
    """
    require_perm(actor, f"{PERM}.change_duplicategroup", f"{PERM}.change_programmembership")
    with transaction.atomic():
        locked = DuplicateGroup.objects.select_for_update().get(pk=duplicate_group.pk)
        if locked.state != DuplicateState.DUPLICATE:
            raise ValidationError(_("This duplicate has already been cleared."))
        DuplicateGroup.objects.filter(pk=locked.pk).update(state=DuplicateState.NOT_DUPLICATE)
        reset = queries.clear_duplicate_group(duplicate_group_id=locked.pk)
    duplicate_group.state = DuplicateState.NOT_DUPLICATE
    return reset


def manager_configure(
    *,
    assignment: ManagerAssignment,
    config: dict[str, Any],
    actor: Actor,
    name: str | None = None,
) -> ManagerAssignment:
    """Replace a manager's configuration (and its name when ``name`` is given); it is validated
    by the manager's ``Config`` model and nothing is written when it is refused
    (``ValidationError`` naming ``config`` and the key, or ``name``)."""
    require_perm(actor, f"{PERM}.change_managerassignment")
    with transaction.atomic():
        locked = ManagerAssignment.objects.select_for_update().get(pk=assignment.pk)
        locked.config = config
        if name is not None:
            locked.name = name.strip()
        locked.save()
    assignment.config, assignment.name = locked.config, locked.name
    return assignment


def manager_add(
    *,
    program: Program,
    kind: str,
    manager_key: str,
    name: str,
    config: dict[str, Any] | None,
    actor: Actor,
) -> ManagerAssignment:
    """Attach a registered manager to a program with a validated configuration.

    Eligibility, deduplication and notification managers are appended after the program's
    others (eligibility managers chain in that order). A second active program, cycle,
    entitlement or payment manager is refused with upstream's "Only one manager can be
    configured …" message; an unknown key or a bad configuration is refused naming
    ``manager_key`` / ``config``. Refused while a job holds the program. Nothing is written on
    refusal.
    """
    require_perm(actor, f"{PERM}.add_managerassignment")
    try:
        with transaction.atomic():
            program = _locked(program)
            last = (
                ManagerAssignment.objects.filter(program=program, kind=kind)
                .order_by("-sequence")
                .values_list("sequence", flat=True)
                .first()
            )
            assignment = ManagerAssignment(
                program=program,
                kind=kind,
                manager_key=manager_key,
                name=(name or "").strip(),
                config=config or {},
                sequence=10 if last is None else last + 1,
            )
            assignment.save()
    except IntegrityError as exc:
        raise validation_error_from_db(exc) from exc
    return assignment


def manager_remove(*, assignment: ManagerAssignment, actor: Actor) -> None:
    """Detach a manager from its program (upstream: deleting the concrete manager deletes its
    wrapper). The program then behaves as without it (e.g. "No Cycle Manager defined.").
    Refused while a job holds the program."""
    require_perm(actor, f"{PERM}.delete_managerassignment")
    with transaction.atomic():
        _locked(assignment.program)
        ManagerAssignment.objects.filter(pk=assignment.pk).delete()


def _import_candidates(assignment: ManagerAssignment, program: Program) -> Any:
    """Enabled registrants (``is_registrant``) of the program's target kind that pass this
    eligibility manager and are not members yet (lazy)."""
    manager = assignment.instance()
    return (
        Registrant.objects.filter(
            disabled__isnull=True,
            is_registrant=True,
            is_group=program.target_type == TargetType.GROUP,
        )
        .filter(manager.registrant_filter())
        .exclude(pk__in=ProgramMembership.objects.filter(program=program).values("registrant_id"))
    )


IMPORT_STATES = (MembershipState.DRAFT, MembershipState.ENROLLED)


def program_import_eligible(
    *, assignment: ManagerAssignment, state: str = MembershipState.DRAFT, actor: Actor
) -> Notification:
    """Upstream eligibility manager ``import_eligible_registrants(state)``: every registrant
    that passes THIS eligibility manager and is not a member yet becomes a member in ``state``
    (draft or enrolled).

    Beyond upstream (whose ID and phone managers had no target filter): only enabled
    registrants (``is_registrant``) of the program's target kind are imported. One
    ``INSERT … SELECT … ON CONFLICT DO NOTHING``; idempotent. Above the threshold the program
    is locked ("Importing beneficiaries") and a job inserts them in keyset chunks of registrant
    ids. Title "Enrollment": "<n> beneficiaries imported." / "No beneficiaries to import." /
    sticky "Import of <n> beneficiaries started.".
    """
    require_perm(actor, f"{PERM}.add_programmembership")
    if assignment.kind != ManagerKind.ELIGIBILITY or not assignment.active:
        raise ValidationError(_("Only an active eligibility manager can import registrants."))
    if state not in IMPORT_STATES:
        raise ValidationError(
            {"state": _("Registrants are imported as draft or enrolled, not %r.") % state}
        )
    with transaction.atomic():
        program = _locked(assignment.program)
        if program.state != ProgramState.ACTIVE or not program.active:
            raise ValidationError(_("Registrants can only be added to an active program."))
        candidates = _import_candidates(assignment, program)
        concerned = candidates.count()
        queued = bulk.queue_if_large(
            operation=bulk.IMPORT_ELIGIBLE,
            holder=program,
            total=concerned,
            actor=actor,
            title=_("Enrollment"),
            message=_("Import of %s beneficiaries started.") % concerned,
            params={"assignment_id": assignment.pk, "state": str(state)},
        )
        if queued:
            return queued
        since = timezone.now()
        added = queries.insert_program_memberships_from(
            program_id=program.pk, registrants=candidates, state=str(state), since=since
        )
        if added and state == MembershipState.ENROLLED:
            newly = ProgramMembership.objects.filter(
                program=program, state=MembershipState.ENROLLED, enrollment_date=since
            )
            notify(program, "enrolled", membership_ids=newly, actor=actor)
    if not added:
        return Notification(_("Enrollment"), _("No beneficiaries to import."), "warning")
    return Notification(
        _("Enrollment"), _("%s beneficiaries imported.") % added, data={"added": added}
    )


@bulk.planner(bulk.IMPORT_ELIGIBLE)
def _plan_import(program: Program, assignment_id: int, state: str) -> bulk.Plan:
    assignment = ManagerAssignment.objects.select_related("program").get(pk=assignment_id)

    def chunk(id_range: tuple[int, int]) -> None:
        queries.insert_program_memberships_from(
            program_id=program.pk,
            registrants=_import_candidates(assignment, program).filter(
                pk__gt=id_range[0], pk__lte=id_range[1]
            ),
            state=state,
            since=timezone.now(),
        )

    return bulk.Plan(rows=lambda: _import_candidates(assignment, program), chunk=chunk)
