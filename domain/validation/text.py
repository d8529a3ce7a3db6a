"""Shared pieces of every check: a short quote of a value, the error naming a field, and the
text rules (bounded length, no NUL or control characters)."""

from __future__ import annotations

from domain.errors import InvalidArgument

QUOTE_LIMIT = 100  # characters of a value an error message shows
PATH_MAX = 4096  # Linux PATH_MAX, with the terminating NUL
NAME_MAX = 255  # one path component
MAX_ARG_STRLEN = 131072  # one argv or environ string for execve, with its NUL


def quote(value: object, limit: int = QUOTE_LIMIT) -> str:
    """`repr(value)` of at most `limit` characters of it, with the full length when cut."""
    if isinstance(value, str | bytes):
        if len(value) > limit:
            return f"{value[:limit]!r}… ({len(value)} characters)"
        return repr(value)
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}…"


def invalid(field: str, value: object, reason: str) -> InvalidArgument:
    """The InvalidArgument for `field` holding `value`: `<field> <quoted value>: <reason>`."""
    return InvalidArgument(f"{field} {quote(value)}: {reason}")


def has_control(value: str) -> bool:
    """Whether `value` holds a C0 control character (NUL, newline, tab, ...) or DEL."""
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)


def check_no_nul(field: str, value: str) -> None:
    if "\x00" in value:
        raise invalid(field, value, "must not contain a NUL byte")


def check_length(field: str, value: str, limit: int) -> None:
    if len(value.encode()) > limit:
        raise invalid(field, value, f"is longer than {limit} bytes")


def check_plain(field: str, value: str, limit: int) -> None:
    """At most `limit` bytes and no control characters (a line of a file, an env entry)."""
    check_length(field, value, limit)
    if has_control(value):
        raise invalid(field, value, "must not contain control characters (NUL, newline, ...)")
