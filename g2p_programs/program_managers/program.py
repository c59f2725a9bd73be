"""Program managers: enrolment of a program's candidates (upstream ``g2p.program.manager.default``).

Creating cycles belongs to the cycle workflow (:mod:`g2p_programs.services.cycles`), not here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pydantic
from django.db.models import QuerySet
from django.utils import timezone

from g2p_programs.choices import ManagerKind, MembershipState
from g2p_programs.program_managers.eligibility import chain_eligible, eligibility_managers
from g2p_programs.registry import BaseManager, ManagerConfig, registry

# States only their own workflow changes: "Back to draft" for duplicated, an officer for
# paused / exited. Upstream's program-level enrolment flipped them back to enrolled (quirk 2);
# here enrolment leaves them alone, so a deduplicated beneficiary stays out of the next cycle.
STATES_KEPT_BY_ENROLMENT = (
    MembershipState.DUPLICATED,
    MembershipState.PAUSED,
    MembershipState.EXITED,
)


@dataclass(frozen=True)
class EnrollmentResult:
    """``enrolled``: memberships enrolled now; ``not_eligible``: memberships moved to
    not_eligible now; ``since``: the enrolment timestamp written (identifies the new ones)."""

    enrolled: int
    not_eligible: int
    since: Any


class ProgramManager(BaseManager):
    """Contract of a program manager.

    - ``enroll_eligible(states=None, actor=None)``: run the eligibility chain over the program's
      memberships in ``states`` (None = all) and move them to enrolled / not_eligible, in a
      fixed number of statements whatever the program size; idempotent (a re-run changes no
      row). Raises nothing: the service checks preconditions. ``id_range=(after, upto)`` limits
      it to the memberships with ``after < id <= upto`` (a keyset chunk of the background job);
      ``since`` is the enrolment timestamp to write (the job passes one for all its chunks).
    - ``last_cycle()``: the program's cycle with the highest sequence, or None.
    """

    kind = ManagerKind.PROGRAM

    def enroll_eligible(
        self,
        *,
        states: Sequence[str] | None = None,
        actor: Any = None,
        id_range: tuple[int, int] | None = None,
        since: Any = None,
    ) -> EnrollmentResult:
        raise NotImplementedError

    def last_cycle(self) -> Any:
        from g2p_programs.models import Cycle

        return Cycle.objects.filter(program=self.program).order_by("-sequence").first()

    def memberships(
        self, states: Sequence[str] | None = None, id_range: tuple[int, int] | None = None
    ) -> QuerySet[Any]:
        from g2p_programs.models import ProgramMembership

        qs = ProgramMembership.objects.filter(program=self.program)
        if id_range is not None:
            qs = qs.filter(pk__gt=id_range[0], pk__lte=id_range[1])
        return qs.filter(state__in=list(states)) if states else qs


class DefaultProgramConfig(ManagerConfig):
    number_of_cycles: int = pydantic.Field(default=1, ge=1)
    copy_last_cycle_on_new_cycle: bool = pydantic.Field(
        default=True, description="Copy previous cycle."
    )


@registry.register
class DefaultProgramManager(ProgramManager):
    """Enrols through the chain of eligibility managers with two ``UPDATE`` statements."""

    key = "default"
    label = "Default"
    upstream_model = "g2p.program.manager.default"
    Config = DefaultProgramConfig
    config: DefaultProgramConfig

    def enroll_eligible(
        self,
        *,
        states: Sequence[str] | None = None,
        actor: Any = None,
        id_range: tuple[int, int] | None = None,
        since: Any = None,
    ) -> EnrollmentResult:
        """Eligible memberships not yet enrolled -> enrolled (+ enrollment_date); the others not
        yet not_eligible -> not_eligible. Memberships in :data:`STATES_KEPT_BY_ENROLMENT` are
        left as they are. Queries: 1 (managers) + 2 ``UPDATE … WHERE id IN (subquery)``."""
        now = since or timezone.now()
        base = self.memberships(states, id_range)
        eligible = chain_eligible(eligibility_managers(self.program), base)
        kept = [s.value for s in STATES_KEPT_BY_ENROLMENT]
        enrolled = (
            base.filter(pk__in=eligible.values("pk"))
            .exclude(state__in=[MembershipState.ENROLLED, *kept])
            .update(state=MembershipState.ENROLLED, enrollment_date=now, write_date=now)
        )
        not_eligible = (
            base.exclude(pk__in=eligible.values("pk"))
            .exclude(state__in=[MembershipState.NOT_ELIGIBLE, *kept])
            .update(state=MembershipState.NOT_ELIGIBLE, write_date=now)
        )
        return EnrollmentResult(enrolled=enrolled, not_eligible=not_eligible, since=now)
