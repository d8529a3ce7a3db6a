"""Kubernetes resource quantities (`500m`, `1.5`, `64Mi`, `1G`, `129e6`)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_SUFFIXES = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}
_FORM = re.compile(r"^([+]?[0-9.]+(?:[eE][-+]?[0-9]+)?)([a-zA-Z]*)$")


def parse_quantity(value: str | int | float) -> Decimal:
    """The quantity's value; ValueError for a malformed or negative one."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a quantity")
    text = str(value).strip()
    match = _FORM.match(text)
    if match is None or match.group(2) not in _SUFFIXES:
        raise ValueError(f"{text!r} is not a quantity (e.g. 500m, 2, 64Mi, 1G)")
    try:
        number = Decimal(match.group(1))
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a quantity (e.g. 500m, 2, 64Mi, 1G)") from None
    return number * _SUFFIXES[match.group(2)]


def millicores(value: str | int | float) -> int:
    """CPU in millicores, rounded up as Kubernetes does (`0.0001` is 1m)."""
    milli = parse_quantity(value) * 1000
    return int(milli.to_integral_value(rounding="ROUND_CEILING"))


def byte_count(value: str | int | float) -> int:
    """Memory in bytes, rounded up."""
    return int(parse_quantity(value).to_integral_value(rounding="ROUND_CEILING"))
