"""Payment managers."""
