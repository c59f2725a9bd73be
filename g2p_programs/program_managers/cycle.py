"""Cycle managers: when cycles run and who approves them (upstream ``g2p.cycle.manager.default``).

The cycle *workflow* (states, copying beneficiaries, approval) lives in
:mod:`g2p_programs.services.cycles`; a cycle manager supplies the policy: the recurrence that
dates each new cycle, the group whose members may approve, and whether approving a cycle also
approves its entitlements.
"""

from __future__ import annotations

import datetime

import pydantic

from g2p_programs.choices import ManagerKind
from g2p_programs.recurrence import RecurrenceConfig, next_cycle_dates
from g2p_programs.registry import BaseManager, ManagerConfig, registry
from g2p_programs.roles import ROLE_CYCLE_APPROVER


class CycleManager(BaseManager):
    """Contract of a cycle manager.

    ``cycle_dates(start)`` returns the (start, end) of the cycle beginning at or after ``start``;
    ``may_approve(user)`` says whether ``user`` may approve this program's cycles;
    ``auto_approve_entitlements`` whether approving a cycle approves its entitlements too.
    """

    kind = ManagerKind.CYCLE

    @property
    def auto_approve_entitlements(self) -> bool:
        raise NotImplementedError

    def cycle_dates(self, start: datetime.date) -> tuple[datetime.date, datetime.date]:
        raise NotImplementedError

    def may_approve(self, user: object) -> bool:
        raise NotImplementedError


class DefaultCycleConfig(ManagerConfig):
    recurrence: RecurrenceConfig = pydantic.Field(default_factory=RecurrenceConfig)
    approver_group: str = pydantic.Field(
        default=ROLE_CYCLE_APPROVER,
        min_length=1,
        description="Name of the role (Django group) whose members may approve cycles.",
    )
    auto_approve_entitlements: bool = False


@registry.register
class DefaultCycleManager(CycleManager):
    """Cycles dated by a recurrence rule (daily, weekly, monthly by date or weekday, yearly),
    approved by members of one role; optionally approving entitlements with the cycle."""

    key = "default"
    label = "Default"
    upstream_model = "g2p.cycle.manager.default"
    Config = DefaultCycleConfig
    config: DefaultCycleConfig

    @property
    def auto_approve_entitlements(self) -> bool:
        return self.config.auto_approve_entitlements

    def cycle_dates(self, start: datetime.date) -> tuple[datetime.date, datetime.date]:
        return next_cycle_dates(self.config.recurrence, start)

    def may_approve(self, user: object) -> bool:
        if getattr(user, "is_superuser", False):
            return True
        groups = getattr(user, "groups", None)
        return bool(groups is not None and groups.filter(name=self.config.approver_group).exists())
