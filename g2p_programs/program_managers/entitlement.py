"""Entitlement managers: what each beneficiary is owed per cycle, and approval against the fund.

Upstream ``g2p.program.entitlement.manager.default``. The workflow around them (permissions,
cycle states, locks, segregation of duties) lives in :mod:`g2p_programs.services.entitlements`;
a manager supplies the set-based work: prepare, set pending, approve within a balance, cancel.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import ClassVar

import pydantic
from django.db.models import QuerySet

from g2p_programs.choices import EntitlementState, ManagerKind
from g2p_programs.models import Cycle, Entitlement
from g2p_programs.queries import entitlements as queries
from g2p_programs.queries.entitlements import ApprovalOutcome
from g2p_programs.registry import BaseManager, ManagerConfig, registry

APPROVABLE = (EntitlementState.DRAFT, EntitlementState.PENDING_VALIDATION)
CANCELLABLE = (
    EntitlementState.DRAFT,
    EntitlementState.PENDING_VALIDATION,
    EntitlementState.APPROVED,
)


class EntitlementManager(BaseManager):
    """Contract of an entitlement manager.

    - ``IS_CASH``: entitlements are money (payments are prepared from them); upstream's
      ``IS_CASH_ENTITLEMENT``.
    - ``prepare_entitlements(cycle)`` creates the draft entitlements of the cycle's enrolled
      members lacking one and returns how many; idempotent (a re-run creates none) and a fixed
      number of queries whatever the cycle size. ``id_range=(after, upto)`` limits it to the
      cycle memberships with ``after < id <= upto`` (a keyset chunk of the background job).
    - ``set_pending_validation(cycle)``: draft -> pending_validation; returns the count.
    - ``approve(program_id, balance, …)``: draft / pending -> approved for the candidates whose
      running total (id order) fits ``balance``; the caller holds the program lock.
    - ``cancel(cycle)``: draft / pending / approved -> cancelled; returns the count.

    Each bulk method takes ``id_range=(after, upto)`` to work on one keyset chunk of entitlements
    (``after < id <= upto``) for the background path.
    """

    kind = ManagerKind.ENTITLEMENT
    IS_CASH: ClassVar[bool] = True

    def prepare_entitlements(self, cycle: Cycle, *, id_range: tuple[int, int] | None = None) -> int:
        raise NotImplementedError

    def set_pending_validation(
        self, cycle: Cycle, *, id_range: tuple[int, int] | None = None
    ) -> int:
        return _in_range(
            Entitlement.objects.filter(cycle=cycle, state=EntitlementState.DRAFT), id_range
        ).update(state=EntitlementState.PENDING_VALIDATION)

    def approve(
        self,
        *,
        balance: Decimal,
        approved_by_id: int | None,
        date_approved: datetime.date,
        cycle_id: int | None = None,
        entitlement_ids: list[int] | None = None,
        id_range: tuple[int, int] | None = None,
    ) -> ApprovalOutcome:
        return queries.approve_entitlements_within_balance(
            program_id=self.program.pk,
            balance=balance,
            approved_by_id=approved_by_id,
            date_approved=date_approved,
            cycle_id=cycle_id,
            entitlement_ids=entitlement_ids,
            id_range=id_range,
        )

    def cancel(self, cycle: Cycle, *, id_range: tuple[int, int] | None = None) -> int:
        return _in_range(
            Entitlement.objects.filter(cycle=cycle, state__in=CANCELLABLE), id_range
        ).update(state=EntitlementState.CANCELLED, ern="")


def _in_range(qs: QuerySet[Entitlement], id_range: tuple[int, int] | None) -> QuerySet[Entitlement]:
    """``qs`` limited to ``after < id <= upto`` (a job's keyset chunk); all when None."""
    if id_range is None:
        return qs
    return qs.filter(pk__gt=id_range[0], pk__lte=id_range[1])


class DefaultEntitlementConfig(ManagerConfig):
    amount_per_cycle: Decimal = pydantic.Field(default=Decimal("0"), ge=0, decimal_places=2)
    amount_per_individual_in_group: Decimal = pydantic.Field(
        default=Decimal("0"), ge=0, decimal_places=2
    )
    max_individual_in_group: int = pydantic.Field(default=0, ge=0, description="0 means no limit.")
    transfer_fee_pct: Decimal = pydantic.Field(default=Decimal("0"), ge=0, le=100, decimal_places=2)
    transfer_fee_amt: Decimal = pydantic.Field(default=Decimal("0"), ge=0, decimal_places=2)

    @pydantic.field_validator("transfer_fee_amt")
    @classmethod
    def _one_fee(cls, value: Decimal, info: pydantic.ValidationInfo) -> Decimal:
        # Upstream's form zeroes one when the other is set; a stored config must pick one.
        if value > 0 and info.data.get("transfer_fee_pct", 0) > 0:
            raise ValueError(
                "set either a transfer fee percentage or a fixed transfer fee, not both"
            )
        return value


@registry.register
class DefaultCashEntitlementManager(EntitlementManager):
    """Cash entitlements: a fixed amount per cycle, plus an amount per current member for groups
    (optionally capped), with a percentage or fixed transfer fee, in the program's currency."""

    key = "default"
    label = "Default"
    upstream_model = "g2p.program.entitlement.manager.default"
    Config = DefaultEntitlementConfig
    config: DefaultEntitlementConfig

    def calculate_amount(self, *, is_group: bool, members: int) -> Decimal:
        """Upstream's formula, in Python (the SQL of :meth:`prepare_entitlements` mirrors it)."""
        amount = self.config.amount_per_cycle
        if is_group and members > 0:
            cap = self.config.max_individual_in_group
            amount += self.config.amount_per_individual_in_group * (
                min(members, cap) if cap > 0 else members
            )
        return amount

    def prepare_entitlements(self, cycle: Cycle, *, id_range: tuple[int, int] | None = None) -> int:
        """One ``INSERT … SELECT … ON CONFLICT DO NOTHING``; see
        :func:`g2p_programs.queries.entitlements.insert_entitlements_for_cycle`."""
        c = self.config
        return queries.insert_entitlements_for_cycle(
            cycle_id=cycle.pk,
            amount_per_cycle=c.amount_per_cycle,
            amount_per_individual_in_group=c.amount_per_individual_in_group,
            max_individual_in_group=c.max_individual_in_group,
            transfer_fee_pct=c.transfer_fee_pct,
            transfer_fee_amt=c.transfer_fee_amt,
            is_cash=self.IS_CASH,
            id_range=id_range,
        )
