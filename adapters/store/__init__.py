"""Durable state in sqlite."""
