"""Benchmarks (see DESIGN.md, "Performance contract")."""
