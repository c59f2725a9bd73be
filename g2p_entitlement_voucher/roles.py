"""Who verifies and redeems vouchers, and who sees them.

Service providers hold the "Voucher Redeemer" role: they verify and redeem vouchers and see
nothing else. Finance Validators (who release money) and Registry Administrators may also
redeem and manage the signing keys; every program role reads vouchers.
"""

from __future__ import annotations

from g2p_programs.roles import (
    ROLE_CYCLE_APPROVER,
    ROLE_FINANCE_VALIDATOR,
    ROLE_PROGRAM_MANAGER,
    ROLE_PROGRAM_VALIDATOR,
)
from g2p_registry_base.choices import ROLE_ADMIN

APP = "g2p_entitlement_voucher"
ROLE_VOUCHER_REDEEMER = "Voucher Redeemer"
READ = {"view_voucher", "view_voucherdocument"}
REDEEM = "redeem_voucher"
KEYS = {"view_voucherkey", "add_voucherkey", "change_voucherkey"}

ROLE_PERMISSIONS: dict[str, set[str]] = {
    ROLE_VOUCHER_REDEEMER: {REDEEM},
    ROLE_PROGRAM_MANAGER: READ | {"add_voucherdocument"},
    ROLE_PROGRAM_VALIDATOR: READ,
    ROLE_CYCLE_APPROVER: READ,
    ROLE_FINANCE_VALIDATOR: READ | {REDEEM, "add_voucherdocument"},
    ROLE_ADMIN: READ | KEYS | {REDEEM, "add_voucherdocument"},
}
