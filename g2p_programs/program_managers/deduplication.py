"""Deduplication managers."""
