"""Shared test configuration; area fixtures live in tests/support and are loaded as plugins."""

pytest_plugins: list[str] = [
    "tests.support.containerd",
    "tests.support.registry",
    "tests.support.cni",
    "tests.support.stack",
]
