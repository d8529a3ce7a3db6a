"""Stop signals by name, as images and CRI configs spell them."""

from domain.errors import InvalidArgument
from domain.validation.text import quote

SIGKILL = 9
SIGTERM = 15

_SIGNALS = {
    "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "BUS": 7, "FPE": 8,
    "KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15,
    "STKFLT": 16, "CHLD": 17, "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22,
    "URG": 23, "XCPU": 24, "XFSZ": 25, "VTALRM": 26, "PROF": 27, "WINCH": 28, "IO": 29,
    "PWR": 30, "SYS": 31,
}  # fmt: skip


def parse_signal(text: str) -> int:
    """`SIGTERM`, `TERM` or `15` -> 15; empty -> SIGTERM."""
    if not text:
        return SIGTERM
    if text.isdigit():
        number = int(text)
        if 0 < number < 65:
            return number
    else:
        number = _SIGNALS.get(text.upper().removeprefix("SIG"), 0)
        if number:
            return number
    raise InvalidArgument(f"unknown signal {quote(text)}")
