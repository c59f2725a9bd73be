"""Entitlement managers."""
