"""Program role fixtures (users holding one role each)."""

from g2p_programs.tests.fixtures_money import finance, program_manager_user, validator_user

__all__ = ["finance", "program_manager_user", "validator_user"]
