"""Names, IDs and process strings: bounded, no NUL, and what CNI_ARGS and a hostname can
carry; env names, argv entries."""

from __future__ import annotations

import re
from collections.abc import Sequence

from domain.model import KeyValue
from domain.validation.text import MAX_ARG_STRLEN, check_plain, invalid

NAME_LIMIT = 253  # a Kubernetes object name (DNS subdomain)
ID_LIMIT = 256  # an object ID or a prefix of one (IDs are 64 hex digits)
HOSTNAME_LIMIT = 64  # HOST_NAME_MAX
ARGV_LIMIT = 2 * 1024 * 1024  # ARG_MAX with the usual 8 MiB stack: argv + environ
# Characters that break CNI_ARGS (`K=V;K=V`) or the quoting of a plugin's arguments.
_CNI_UNSAFE = frozenset(";=\"'\\` ")
_LABEL = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?$")


def check_name(field: str, name: str, cni: bool = False) -> None:
    """A metadata name: non-empty, at most NAME_LIMIT bytes, no control characters; with
    `cni`, nothing that CNI_ARGS cannot carry either (`;`, `=`, quotes, spaces)."""
    if not name:
        raise invalid(field, name, "must not be empty")
    check_plain(field, name, NAME_LIMIT)
    if cni and not _CNI_UNSAFE.isdisjoint(name):
        raise invalid(field, name, "must not contain ';', '=', quotes, backslashes or spaces")


def check_id(field: str, value: str) -> None:
    """An object ID (or unique prefix) the client names: bounded, no control characters."""
    check_plain(field, value, ID_LIMIT)


def check_hostname(field: str, hostname: str) -> None:
    """At most 64 characters of RFC 1123 labels separated by dots."""
    if not hostname:
        return
    if len(hostname) > HOSTNAME_LIMIT:
        raise invalid(field, hostname, f"is longer than {HOSTNAME_LIMIT} characters")
    if not all(_LABEL.match(label) for label in hostname.split(".")):
        raise invalid(
            field, hostname, "must be RFC 1123 labels (letters, digits, '-') joined by dots"
        )


def check_env(field: str, envs: Sequence[KeyValue]) -> int:
    """Env names non-empty without `=`; no NUL anywhere. Returns the bytes they take."""
    total = 0
    for i, kv in enumerate(envs):
        if not kv.key:
            raise invalid(f"{field}[{i}].key", kv.key, "must not be empty")
        if "=" in kv.key:
            raise invalid(f"{field}[{i}].key", kv.key, "must not contain '='")
        for part, text in (("key", kv.key), ("value", kv.value)):
            if "\x00" in text:
                raise invalid(f"{field}[{i}].{part}", text, "must not contain a NUL byte")
        size = len(kv.key.encode()) + len(kv.value.encode()) + 2
        if size > MAX_ARG_STRLEN:
            raise invalid(f"{field}[{i}]", kv.key, f"is longer than {MAX_ARG_STRLEN} bytes")
        total += size
    return total


def check_argv(field: str, argv: Sequence[str]) -> int:
    """argv entries: no NUL, each within execve's limit. Returns the bytes they take."""
    total = 0
    for i, arg in enumerate(argv):
        if "\x00" in arg:
            raise invalid(f"{field}[{i}]", arg, "must not contain a NUL byte")
        size = len(arg.encode()) + 1
        if size > MAX_ARG_STRLEN:
            raise invalid(f"{field}[{i}]", arg, f"is longer than {MAX_ARG_STRLEN - 1} bytes")
        total += size
    return total


def check_exec_size(field: str, total: int) -> None:
    if total > ARGV_LIMIT:
        raise invalid(field, f"{total} bytes", f"command, args and env exceed {ARGV_LIMIT} bytes")
