"""Who may configure the proxy means test and who sees the scores.

Program Managers (who configure programs and their eligibility) and Registry Administrators
change a program's PMT configuration and its indicators, which recomputes the scores; every
program role reads the configuration and the scores with their breakdown.
"""

from __future__ import annotations

from g2p_programs.roles import (
    ROLE_CYCLE_APPROVER,
    ROLE_FINANCE_VALIDATOR,
    ROLE_PROGRAM_MANAGER,
    ROLE_PROGRAM_VALIDATOR,
)
from g2p_registry_base.choices import ROLE_ADMIN

APP = "g2p_pmt"
READ = {"view_pmtconfig", "view_pmtindicator", "view_pmtscore"}
CONFIGURE = {
    "add_pmtconfig",
    "change_pmtconfig",
    "add_pmtindicator",
    "change_pmtindicator",
    "delete_pmtindicator",
}

ROLE_PERMISSIONS: dict[str, set[str]] = {
    ROLE_PROGRAM_MANAGER: READ | CONFIGURE,
    ROLE_PROGRAM_VALIDATOR: READ,
    ROLE_CYCLE_APPROVER: READ,
    ROLE_FINANCE_VALIDATOR: READ,
    ROLE_ADMIN: READ | CONFIGURE | {"delete_pmtconfig"},
}
