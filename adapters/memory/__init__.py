"""Honest in-memory implementations of every outbound port: fast tests and the CRI simulator."""
