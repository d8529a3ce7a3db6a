"""Paths on the host and in the container: log files, bind mounts, devices, cgroup parents,
the working directory."""

from __future__ import annotations

import posixpath

from domain.validation.text import NAME_MAX, PATH_MAX, check_length, check_no_nul, invalid


def check_absolute(field: str, path: str, required: bool = True) -> None:
    """An absolute path (empty only when not `required`) without NUL, at most PATH_MAX."""
    if not path:
        if required:
            raise invalid(field, path, "must not be empty")
        return
    check_no_nul(field, path)
    check_length(field, path, PATH_MAX - 1)
    if not path.startswith("/"):
        raise invalid(field, path, "must be an absolute path")
    if any(len(part.encode()) > NAME_MAX for part in path.split("/")):
        raise invalid(field, path, f"has a component longer than {NAME_MAX} bytes")


def check_log_directory(field: str, directory: str) -> None:
    """The pod's log directory: absolute, or empty (then its containers keep no log)."""
    check_absolute(field, directory, required=False)


def check_log_path(field: str, directory: str, path: str) -> None:
    """A container's log path: relative to the pod's log directory and inside it once
    normalised (no `..` out of it, not the directory itself), no NUL, bounded."""
    if not path:
        return
    check_no_nul(field, path)
    check_length(field, path, PATH_MAX - 1 - len(directory.encode()) - 1)
    if path.startswith("/"):
        raise invalid(field, path, "must be relative to the pod's log_directory")
    normal = posixpath.normpath(path)
    if normal == "." or normal == ".." or normal.startswith("../"):
        raise invalid(field, path, "must name a file inside the pod's log_directory")
    if path.endswith("/") or any(len(part.encode()) > NAME_MAX for part in normal.split("/")):
        raise invalid(field, path, f"must name a file, each component at most {NAME_MAX} bytes")


def effective_log_path(directory: str, path: str) -> str:
    """Where a container's log goes: nowhere ("") unless both the pod's log directory and
    the container's log path are set, as in containerd."""
    if not directory or not path:
        return ""
    return posixpath.join(directory, posixpath.normpath(path))


def check_cgroup_parent(field: str, parent: str, systemd: bool) -> None:
    """A cgroup parent that stays under the cgroup root: no `..` component, no NUL; for the
    systemd driver a slice name (`*.slice`)."""
    if not parent:
        return
    check_no_nul(field, parent)
    check_length(field, parent, PATH_MAX - 1)
    if any(part in ("..", ".") for part in parent.split("/")):
        raise invalid(field, parent, "must not contain '.' or '..' components")
    if systemd and not posixpath.basename(parent.rstrip("/")).endswith(".slice"):
        raise invalid(field, parent, "must name a systemd slice (*.slice) with the systemd driver")


def check_working_dir(field: str, path: str) -> None:
    """The process's working directory: absolute when set, no NUL."""
    check_absolute(field, path, required=False)
