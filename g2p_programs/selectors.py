"""Reads of the programs app: ``<entity>_list`` / ``_count`` returning lazy querysets or values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import (
    Count,
    IntegerField,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from g2p_programs.choices import ManagerKind, MembershipState
from g2p_programs.models import (
    Cycle,
    CycleMembership,
    DuplicateGroup,
    Entitlement,
    ManagerAssignment,
    Payment,
    Program,
    ProgramMembership,
)


def program_list(*, state: str | None = None, active: bool | None = True) -> QuerySet[Program]:
    """Programs, newest first; optionally of one state and archive flag. Lazy."""
    qs = Program.objects.all()
    if state:
        qs = qs.filter(state=state)
    if active is not None:
        qs = qs.filter(active=active)
    return qs


def memberships_count_by_state(
    *, program: Program, include_disabled: bool = True
) -> dict[str, int]:
    """Memberships of ``program`` per state, every state present (0 when none), plus
    ``"total"``: ONE ``GROUP BY`` query over ``program_membership_state_idx``. Without
    ``include_disabled`` the memberships of disabled registrants are left out."""
    counts: dict[str, Any] = {s.value: 0 for s in MembershipState}
    memberships = ProgramMembership.objects.filter(program=program)
    if not include_disabled:
        memberships = memberships.filter(registrant__disabled__isnull=True)
    rows = memberships.order_by().values_list("state").annotate(n=Count("pk"))
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


def beneficiaries_count_by_state(*, program: Program) -> dict[str, int]:
    """As :func:`memberships_count_by_state`, under upstream's record rule: memberships of
    disabled registrants are not counted (the beneficiaries list hides them). One query."""
    return memberships_count_by_state(program=program, include_disabled=False)


def program_membership_list() -> QuerySet[ProgramMembership]:
    """Program memberships visible in the back office: those of disabled registrants are hidden
    (upstream's record rule), registrant and program joined. Lazy."""
    return ProgramMembership.objects.filter(registrant__disabled__isnull=True).select_related(
        "registrant", "program"
    )


def cycle_membership_list() -> QuerySet[CycleMembership]:
    """Cycle memberships visible in the back office (disabled registrants hidden, as upstream's
    record rule), registrant, cycle and program joined. Lazy."""
    return CycleMembership.objects.filter(registrant__disabled__isnull=True).select_related(
        "registrant", "cycle__program"
    )


def _count(model: Any, fk: str, **filters: Any) -> Coalesce:
    rows = (
        model.objects.filter(**{fk: OuterRef("pk")}, **filters)
        .order_by()
        .values(fk)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), Value(0))


def cycle_record_counts(*, cycle: Cycle) -> dict[str, int]:
    """The cycle's beneficiaries (visible ones, any state), entitlements and payments: one
    query of three correlated counts."""
    row = (
        Cycle.objects.filter(pk=cycle.pk)
        .annotate(
            beneficiaries=_count(CycleMembership, "cycle", registrant__disabled__isnull=True),
            entitlements_n=_count(Entitlement, "cycle"),
            payments_n=_count(Payment, "cycle"),
        )
        .values("beneficiaries", "entitlements_n", "payments_n")
        .first()
    ) or {"beneficiaries": 0, "entitlements_n": 0, "payments_n": 0}
    return {
        "beneficiaries": row["beneficiaries"],
        "entitlements": row["entitlements_n"],
        "payments": row["payments_n"],
    }


@dataclass(frozen=True)
class CashSetup:
    """How a program pays: whether its active entitlement manager deals in cash (upstream's
    ``IS_CASH_ENTITLEMENT``) and whether it has an active payment manager."""

    is_cash: bool
    has_payment_manager: bool

    @property
    def pays_cash(self) -> bool:
        """Upstream shows payment buttons only then (the cycle form's ``hide_cash``)."""
        return self.is_cash and self.has_payment_manager


def program_cash_setup(*, program: Program | int) -> CashSetup:
    """The program's :class:`CashSetup`, from one query over its active managers."""
    from g2p_programs.registry import registry

    rows = dict(
        ManagerAssignment.objects.filter(
            program=program,
            active=True,
            kind__in=[ManagerKind.ENTITLEMENT, ManagerKind.PAYMENT],
        ).values_list("kind", "manager_key")
    )
    is_cash = False
    key = rows.get(ManagerKind.ENTITLEMENT)
    if key is not None:
        try:
            is_cash = bool(getattr(registry.get(ManagerKind.ENTITLEMENT, key), "IS_CASH", False))
        except ValidationError:  # a key no longer registered
            is_cash = False
    return CashSetup(is_cash=is_cash, has_payment_manager=ManagerKind.PAYMENT in rows)


def job_progress_target(holder: Any) -> str:
    """``"program:<id>"`` / ``"cycle:<id>"``: how background jobs name the object they hold."""
    return f"{holder._meta.model_name}:{holder.pk}"


def job_progress_latest(*, holder: Any) -> Any:
    """The newest :class:`~pbms.models.JobProgress` of a program or cycle (running or finished),
    or None. One query over the ``target`` index."""
    from pbms.models import JobProgress

    return JobProgress.objects.filter(target=job_progress_target(holder)).order_by("-pk").first()
