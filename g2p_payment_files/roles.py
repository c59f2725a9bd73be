"""Who may download payment files and reconcile payments.

Finance Validators (who send payments) and Registry Administrators download payment files and
import bank result files; every role may view the file configurations and the import history.
Program Validators can do neither.
"""

from __future__ import annotations

from g2p_programs.roles import ROLE_FINANCE_VALIDATOR
from g2p_registry_base.choices import ROLE_ADMIN

APP = "g2p_payment_files"
DOWNLOAD = "download_paymentfile"
RECONCILE = "reconcile_payments"

ROLE_PERMISSIONS: dict[str, set[str]] = {
    ROLE_FINANCE_VALIDATOR: {
        "view_paymentfileconfig",
        "view_paymentfile",
        "view_reconciliationimport",
        DOWNLOAD,
        RECONCILE,
    },
    ROLE_ADMIN: {
        "view_paymentfileconfig",
        "add_paymentfileconfig",
        "change_paymentfileconfig",
        "delete_paymentfileconfig",
        "view_paymentfile",
        "view_reconciliationimport",
        DOWNLOAD,
        RECONCILE,
    },
}
