"""The ``voucher`` entitlement manager (upstream ``g2p.program.entitlement.manager.voucher``).

Amounts, fees, approval within the fund and cancellation are the default cash manager's; on
approval (when ``auto_generate_voucher_on_approval``, the default as upstream) each approved
entitlement gets a voucher in the same statement scope — one ``INSERT … SELECT`` per approval
run or job chunk, whatever the number of beneficiaries. Cancelling entitlements cancels their
unredeemed vouchers.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pydantic

from g2p_entitlement_voucher import queries
from g2p_entitlement_voucher.choices import VoucherState
from g2p_entitlement_voucher.models import Voucher
from g2p_programs.models import Cycle
from g2p_programs.program_managers.entitlement import (
    DefaultCashEntitlementManager,
    DefaultEntitlementConfig,
)
from g2p_programs.queries.entitlements import ApprovalOutcome
from g2p_programs.registry import registry


class VoucherEntitlementConfig(DefaultEntitlementConfig):
    auto_generate_voucher_on_approval: bool = True
    validity_days: int = pydantic.Field(
        default=30,
        ge=1,
        le=3660,
        description="Days a voucher is valid when its entitlement has no end date.",
    )


@registry.register
class VoucherEntitlementManager(DefaultCashEntitlementManager):
    """Cash amounts paid out as signed vouchers redeemed at service providers."""

    key = "voucher"
    label = "Voucher"
    upstream_model = "g2p.program.entitlement.manager.voucher"
    Config = VoucherEntitlementConfig
    config: VoucherEntitlementConfig

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
        outcome = super().approve(
            balance=balance,
            approved_by_id=approved_by_id,
            date_approved=date_approved,
            cycle_id=cycle_id,
            entitlement_ids=entitlement_ids,
            id_range=id_range,
        )
        if self.config.auto_generate_voucher_on_approval:
            self.generate_vouchers(
                cycle_id=cycle_id, entitlement_ids=entitlement_ids, id_range=id_range
            )
        return outcome

    def generate_vouchers(
        self,
        *,
        cycle_id: int | None = None,
        entitlement_ids: list[int] | None = None,
        id_range: tuple[int, int] | None = None,
    ) -> int:
        """Vouchers for the approved entitlements in scope lacking one (idempotent)."""
        from g2p_entitlement_voucher.keys import active_key

        return queries.issue_vouchers(
            program_id=self.program.pk,
            kid=active_key().kid,
            validity_days=self.config.validity_days,
            cycle_id=cycle_id,
            entitlement_ids=entitlement_ids,
            id_range=id_range,
        )

    def cancel(self, cycle: Cycle, *, id_range: tuple[int, int] | None = None) -> int:
        cancelled = super().cancel(cycle, id_range=id_range)
        vouchers = Voucher.objects.filter(cycle=cycle, state=VoucherState.ISSUED)
        if id_range is not None:
            vouchers = vouchers.filter(
                entitlement_id__gt=id_range[0], entitlement_id__lte=id_range[1]
            )
        vouchers.filter(entitlement__state="cancelled").update(state=VoucherState.CANCELLED)
        return cancelled
