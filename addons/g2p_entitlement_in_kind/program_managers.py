"""The ``in_kind`` entitlement manager: goods instead of money (OpenSPP's
``g2p.program.entitlement.manager.inkind``; upstream's ``IS_CASH_ENTITLEMENT = False``).

Each entitlement lists quantities of the configured items; its amount is 0 and it is not cash,
so approval never draws on the fund and no payment belongs to it. Setting pending, approval
and cancellation are the common ones of
:class:`~g2p_programs.program_managers.entitlement.EntitlementManager`. Upstream's item
conditions (a domain per item) and multiplier fields are not supported: an item is given per
beneficiary, or per current group member with an optional cap.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Literal

import pydantic

from addons.g2p_entitlement_in_kind import queries
from g2p_programs.models import Cycle
from g2p_programs.program_managers.entitlement import EntitlementManager
from g2p_programs.registry import ManagerConfig, registry


class InKindItem(pydantic.BaseModel):
    """One product handed to each beneficiary per cycle."""

    model_config = pydantic.ConfigDict(extra="forbid")

    product: str = pydantic.Field(min_length=1, max_length=255)
    unit: str = pydantic.Field(default="unit", min_length=1, max_length=64)
    quantity: Decimal = pydantic.Field(gt=0, max_digits=14, decimal_places=3)
    per: Literal["beneficiary", "member"] = pydantic.Field(
        default="beneficiary",
        description="beneficiary: the quantity once; member: times the group's current members.",
    )
    max_multiplier: int = pydantic.Field(
        default=0, ge=0, description="Per member: at most this many members count; 0 = no cap."
    )


class InKindEntitlementConfig(ManagerConfig):
    items: list[InKindItem] = pydantic.Field(default_factory=list)

    @pydantic.field_validator("items")
    @classmethod
    def _distinct_products(cls, items: list[InKindItem]) -> list[InKindItem]:
        seen: set[str] = set()
        for item in items:
            if item.product in seen:
                raise ValueError(f"product {item.product!r} is listed twice")
            seen.add(item.product)
        return items


@registry.register
class InKindEntitlementManager(EntitlementManager):
    """Entitlements to goods: per beneficiary, or per current group member (optionally capped)."""

    key = "in_kind"
    label = "In-kind"
    upstream_model = "g2p.program.entitlement.manager.inkind"
    IS_CASH: ClassVar[bool] = False
    Config = InKindEntitlementConfig
    config: InKindEntitlementConfig

    def prepare_entitlements(self, cycle: Cycle, *, id_range: tuple[int, int] | None = None) -> int:
        """One statement for entitlements and item lines; see
        :func:`~addons.g2p_entitlement_in_kind.queries.insert_in_kind_entitlements_for_cycle`."""
        return queries.insert_in_kind_entitlements_for_cycle(
            cycle_id=cycle.pk,
            items=[item.model_dump(mode="json") for item in self.config.items],
            id_range=id_range,
        )
