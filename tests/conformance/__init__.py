"""Placeholder; documented below once the suite is complete."""
