"""Notification managers."""
