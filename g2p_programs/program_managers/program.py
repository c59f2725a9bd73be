"""Program managers."""
