"""Users and groups: uid/gid ranges, supplemental groups, user-namespace mappings."""

from __future__ import annotations

from collections.abc import Sequence

from domain.errors import Unimplemented
from domain.model import IdMapping, NamespaceMode, UserNamespace
from domain.validation.text import check_plain, invalid

MAX_ID = (1 << 31) - 1  # runc (and Kubernetes) take uids and gids as int32
ID_SPACE = 1 << 32
MAPPABLE = ID_SPACE - 1  # IDs 0 .. 2^32-2: (u32)-1 is never mapped
NGROUPS_MAX = 65536


def check_id(field: str, value: int | None) -> None:
    if value is not None and not 0 <= value <= MAX_ID:
        raise invalid(field, value, f"must be between 0 and {MAX_ID}")


def check_groups(field: str, groups: Sequence[int]) -> None:
    if len(groups) > NGROUPS_MAX:
        raise invalid(field, f"{len(groups)} groups", f"must hold at most {NGROUPS_MAX}")
    for i, gid in enumerate(groups):
        check_id(f"{field}[{i}]", gid)


def check_username(field: str, name: str) -> None:
    if name:
        check_plain(field, name, 256)
        if ":" in name:
            raise invalid(field, name, "must not contain ':'")


def _check_mappings(field: str, mappings: Sequence[IdMapping]) -> None:
    for i, m in enumerate(mappings):
        where = f"{field}[{i}]"
        if m.length < 1:
            raise invalid(f"{where}.length", m.length, "must be at least 1")
        for name, start in (("container_id", m.container_id), ("host_id", m.host_id)):
            if start < 0 or start + m.length > MAPPABLE:
                raise invalid(
                    f"{where}.{name}",
                    start,
                    f"with length {m.length} leaves the 32-bit ID space",
                )


def check_user_namespace(field: str, userns: UserNamespace | None) -> None:
    """Mappings inside the 32-bit ID space; NODE without mappings; POD is not supported."""
    if userns is None:
        return
    _check_mappings(f"{field}.uids", userns.uids)
    _check_mappings(f"{field}.gids", userns.gids)
    if userns.mode == NamespaceMode.NODE:
        if userns.uids or userns.gids:
            raise invalid(f"{field}.mode", "NODE", "takes no ID mappings")
        return
    if userns.mode != NamespaceMode.POD:
        raise invalid(f"{field}.mode", userns.mode.name, "must be POD or NODE")
    if not userns.uids or not userns.gids:
        raise invalid(f"{field}.mode", "POD", "needs uid and gid mappings")
    raise Unimplemented(f"{field}: pod user namespaces are not supported by hexcri")
