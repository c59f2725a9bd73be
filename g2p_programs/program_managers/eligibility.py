"""Eligibility managers."""
