"""The CRI `Signal` enum ↔ the domain's signal names (`SIGTERM`, or a number)."""

from __future__ import annotations

import functools
import signal as signals

from cri_api.v1 import api_pb2 as cri

from domain.errors import InvalidArgument
from domain.signals import parse_signal


def _number(name: str) -> int:
    """SIGRTMINPLUS3 → SIGRTMIN+3, SIGRTMAXMINUS2 → SIGRTMAX-2, aliases as `signal` has them."""
    if name.startswith("SIGRTMINPLUS"):
        return int(signals.SIGRTMIN) + int(name.removeprefix("SIGRTMINPLUS"))
    if name.startswith("SIGRTMAXMINUS"):
        return int(signals.SIGRTMAX) - int(name.removeprefix("SIGRTMAXMINUS"))
    return int(getattr(signals, name))


def to_domain(value: int) -> str:
    """The CRI enum as the domain spells it: `SIGTERM`, or the number for the aliases and
    real-time signals `parse_signal` does not name; RUNTIME_DEFAULT is ""."""
    if value == cri.RUNTIME_DEFAULT:
        return ""
    try:
        name = str(cri.Signal.Name(value))
    except ValueError:
        raise InvalidArgument(f"unknown stop signal {value}") from None
    try:
        parse_signal(name)
    except InvalidArgument:
        return str(_number(name))
    return name


@functools.cache
def _by_number() -> dict[int, int]:
    """Signal number → the first (canonical) CRI enum value naming it."""
    table: dict[int, int] = {}
    for value in cri.Signal.values():
        if value != cri.RUNTIME_DEFAULT:
            table.setdefault(parse_signal(to_domain(value)), value)
    return table


def to_cri(name: str) -> int:
    """The CRI enum for a domain signal name (`SIGTERM`, `TERM`, `15`); unknown → default."""
    if not name:
        return cri.RUNTIME_DEFAULT
    try:
        number = parse_signal(name)
    except InvalidArgument:
        return cri.RUNTIME_DEFAULT
    return _by_number().get(number, cri.RUNTIME_DEFAULT)
