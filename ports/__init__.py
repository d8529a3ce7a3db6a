"""Ports: the async interfaces the domain needs from the outside world, in domain types."""
