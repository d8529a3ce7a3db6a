"""The user of a container's process, resolved from its image's passwd and group files.

The files are read from the snapshot's layer directories (no mount, nothing run): the topmost
layer holding a file wins, as overlayfs shows it.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Sequence
from typing import Any

from domain.errors import Internal, InvalidArgument
from domain.spec import apply, needs_passwd, with_resolved_user

MAX_SYMLINKS = 16


async def resolve_user(spec: dict[str, Any], mounts: Sequence[Any]) -> dict[str, Any]:
    """`spec` with its `process.user` resolved from the rootfs's passwd and group. An image
    without the files resolves numeric users only; an unknown user or group is an
    InvalidArgument."""
    user = (spec.get("process") or {}).get("user") or {}
    if not user.get("username"):
        return spec
    layers = layer_dirs(mounts)
    passwd, group = await asyncio.to_thread(
        lambda: (read_rootfs(layers, "/etc/passwd"), read_rootfs(layers, "/etc/group"))
    )
    if passwd is None and needs_passwd(spec):
        raise InvalidArgument(
            f"cannot resolve user {user['username'][:100]!r}: the image has no /etc/passwd"
        )
    return apply(spec, [with_resolved_user(passwd or "", group or "")])


def layer_dirs(mounts: Sequence[Any]) -> list[str]:
    """The rootfs's layer directories, topmost first, from the snapshot's mounts."""
    dirs: list[str] = []
    for mount in mounts:
        if mount.type == "bind" or "bind" in mount.options or "rbind" in mount.options:
            dirs.append(mount.source)
            continue
        if mount.type != "overlay":
            raise Internal(f"cannot read the rootfs of a {mount.type!r} mount")
        upper = lower = ""
        for option in mount.options:
            key, _, value = option.partition("=")
            if key == "upperdir":
                upper = value
            elif key == "lowerdir":
                lower = value
        dirs += [d for d in (upper, *lower.split(":")) if d]
    return dirs


def read_rootfs(layers: Sequence[str], path: str, depth: int = 0) -> str | None:
    """The text of `path` as the merged rootfs shows it; None when it is absent.

    Walks the layers topmost first, honouring whiteouts (0/0 character devices), opaque
    directories and files that shadow directories, and follows symlinks inside the rootfs.
    """
    parts = [p for p in path.split("/") if p]
    for layer in layers:
        opaque = False
        for i in range(1, len(parts) + 1):
            here = os.path.join(layer, *parts[:i])
            if not os.path.lexists(here):
                if opaque:
                    return None  # an opaque directory above hides the lower layers
                break
            if _is_whiteout(here):
                return None
            if os.path.islink(here):
                if depth >= MAX_SYMLINKS:
                    return None
                parent = "/" + "/".join(parts[: i - 1])
                target = os.path.normpath(os.path.join(parent, os.readlink(here)))
                rest = "/".join(parts[i:])
                return read_rootfs(layers, os.path.join(target, rest), depth + 1)
            if i == len(parts):
                if not os.path.isfile(here):
                    return None
                with open(here, encoding="utf-8", errors="replace") as f:
                    return f.read()
            if not os.path.isdir(here):
                return None  # a file shadows the directory of lower layers
            opaque = opaque or _is_opaque(here)
    return None


def _is_whiteout(path: str) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False
