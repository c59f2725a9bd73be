"""PBMS: OpenG2P's Program & Beneficiary Management System on Django and PostgreSQL."""

__version__ = "0.1.0"
