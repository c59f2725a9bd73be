"""Reads of the programs app: ``<entity>_list`` / ``_count`` returning lazy querysets or values."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, Prefetch, QuerySet
from django.utils.translation import gettext as _

from g2p_programs.choices import ManagerKind, MembershipState
from g2p_programs.models import DuplicateGroup, ManagerAssignment, Program, ProgramMembership


def program_list(*, state: str | None = None, active: bool | None = True) -> QuerySet[Program]:
    """Programs, newest first; optionally of one state and archive flag. Lazy."""
    qs = Program.objects.all()
    if state:
        qs = qs.filter(state=state)
    if active is not None:
        qs = qs.filter(active=active)
    return qs


def memberships_count_by_state(*, program: Program) -> dict[str, int]:
    """Memberships of ``program`` per state, every state present (0 when none), plus
    ``"total"``: ONE ``GROUP BY`` query over ``program_membership_state_idx``."""
    counts: dict[str, Any] = {s.value: 0 for s in MembershipState}
    rows = (
        ProgramMembership.objects.filter(program=program)
        .order_by()
        .values_list("state")
        .annotate(n=Count("pk"))
    )
    for state, n in rows:
        counts[state] = n
    counts["total"] = sum(counts[s.value] for s in MembershipState)
    return counts


def duplicates_list(*, program: Program, state: str | None = None) -> QuerySet[DuplicateGroup]:
    """The program's duplicate groups with their memberships and registrants prefetched
    (3 queries whatever the number of groups). Lazy."""
    qs = DuplicateGroup.objects.filter(program=program)
    if state:
        qs = qs.filter(state=state)
    return qs.annotate(member_count=Count("members")).prefetch_related(
        Prefetch(
            "memberships",
            queryset=ProgramMembership.objects.select_related("registrant").order_by("pk"),
        )
    )


MISSING_MANAGER_MESSAGES = {
    ManagerKind.PROGRAM: "No Program Manager defined.",
    ManagerKind.CYCLE: "No Cycle Manager defined.",
    ManagerKind.ENTITLEMENT: "No Entitlement Manager defined.",
    ManagerKind.PAYMENT: "No Payment Manager defined.",
}


def active_manager(*, program: Program, kind: ManagerKind) -> Any:
    """The program's active manager of a single-manager kind, bound to its config, or ``None``.

    One query.
    """
    assignment = ManagerAssignment.objects.filter(program=program, kind=kind, active=True).first()
    if assignment is None:
        return None
    assignment.program = program
    return assignment.instance()


def required_manager(*, program: Program, kind: ManagerKind) -> Any:
    """:func:`active_manager`, or ``ValidationError`` with upstream's "No … Manager defined."."""
    manager = active_manager(program=program, kind=kind)
    if manager is None:
        raise ValidationError(_(MISSING_MANAGER_MESSAGES[kind]))
    return manager
