"""Billing workers (a sub-package: found by a recursive scan only)."""
