"""Who records the distribution of in-kind items.

Handing goods out closes an approved entitlement, the same step as sending a cash payment, so
Finance Validators and Registry Administrators record distributions; every program role reads
the item lines of an entitlement.
"""

from __future__ import annotations

from g2p_programs.roles import (
    ROLE_CYCLE_APPROVER,
    ROLE_FINANCE_VALIDATOR,
    ROLE_PROGRAM_MANAGER,
    ROLE_PROGRAM_VALIDATOR,
)
from g2p_registry_base.choices import ROLE_ADMIN

APP = "g2p_entitlement_in_kind"
READ = {"view_entitlementitemline"}
DISTRIBUTE = "distribute_items"

ROLE_PERMISSIONS: dict[str, set[str]] = {
    ROLE_PROGRAM_MANAGER: READ,
    ROLE_PROGRAM_VALIDATOR: READ,
    ROLE_CYCLE_APPROVER: READ,
    ROLE_FINANCE_VALIDATOR: READ | {DISTRIBUTE},
    ROLE_ADMIN: READ | {DISTRIBUTE},
}
