"""The process user: from the CRI security context or the image's USER.

The domain cannot read the image's /etc/passwd and /etc/group, so the spec generator writes
the numeric parts of the requested `user[:group]` into `process.user` and keeps the request
itself in `process.user.username` (`0` when nobody asked: root). `with_resolved_user` below
finishes the job from the rootfs's passwd/group text, and must be applied by whoever can read
the rootfs (the runtime adapter) before the container is created, just as containerd's
`WithUser`/`WithAdditionalGIDs` read them from the snapshot. It also removes the request,
which is no field of a Linux OCI spec.
"""

from __future__ import annotations

from collections.abc import Sequence

from domain.errors import InvalidArgument
from domain.spec.pipeline import Spec, Step, process


def user_string(username: str, uid: int | None, gid: int | None) -> str:
    """containerd's generateUserString: `name`, `uid`, `name:gid`, `uid:gid` or ``.

    A username wins over a uid; a group without a user is an error.
    """
    user = username or ("" if uid is None else str(uid))
    if not user:
        if gid is not None:
            raise InvalidArgument(f"user group {gid} is specified without user")
        return ""
    return user if gid is None else f"{user}:{gid}"


def requested_user(username: str, uid: int | None, gid: int | None, image_user: str) -> str:
    """The CRI's user, else the image's USER."""
    return user_string(username, uid, gid) or image_user


def with_user(user: str) -> Step:
    """`process.user` from a `user[:group]` string: its numeric parts, and the request kept in
    `username` for `with_resolved_user` (root, `0`, when `user` is empty)."""
    name, _, group = user.partition(":")

    def step(spec: Spec) -> None:
        entry = process(spec).setdefault("user", {})
        entry["uid"] = int(name) if name.isdigit() else 0
        entry["gid"] = int(group) if group.isdigit() else 0
        entry["username"] = user or "0"

    return step


def with_supplemental_groups(groups: Sequence[int]) -> Step:
    """Append the CRI's supplemental groups to `process.user.additionalGids`."""

    def step(spec: Spec) -> None:
        entry = process(spec).setdefault("user", {"uid": 0, "gid": 0})
        gids = entry.setdefault("additionalGids", [])
        gids.extend(g for g in dict.fromkeys(groups) if g not in gids)
        if not gids:
            del entry["additionalGids"]

    return step


def _table(text: str, fields: int) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            parts = line.split(":")
            if len(parts) >= fields:
                rows.append(parts)
    return rows


def resolve_user(user: str, passwd: str, group: str) -> tuple[int, int, list[int]]:
    """(uid, gid, additional gids) of `user[:group]` from /etc/passwd and /etc/group text.

    As containerd's WithUser: a numeric uid not in passwd runs with gid 0; a name that is
    not in passwd (or a group name not in group) is an InvalidArgument. The additional gids
    (containerd's WithAdditionalGIDs) are the primary gid, then the groups that list the
    user's name as a member.
    """
    name, _, grp = user.partition(":")
    users = _table(passwd, 4)
    groups = _table(group, 3)
    entry = next((u for u in users if (u[2] == name if name.isdigit() else u[0] == name)), None)
    if entry is None and not name.isdigit():
        raise InvalidArgument(f"no user {name!r} in the image's /etc/passwd")
    uid = int(name) if name.isdigit() else int(entry[2])  # type: ignore[index]
    gid = int(entry[3]) if entry is not None and entry[3].isdigit() else 0
    if grp:
        if grp.isdigit():
            gid = int(grp)
        else:
            found = next((g for g in groups if g[0] == grp), None)
            if found is None:
                raise InvalidArgument(f"no group {grp!r} in the image's /etc/group")
            gid = int(found[2])
    login = entry[0] if entry is not None else ""
    extra = [
        int(g[2])
        for g in groups
        if login and len(g) > 3 and login in g[3].split(",") and g[2].isdigit()
    ]
    return uid, gid, list(dict.fromkeys([gid, *extra]))


def needs_passwd(spec: Spec) -> bool:
    """Whether the user `with_user` asked for names a user or group (numeric ids resolve
    without the image's /etc/passwd)."""
    request = str(process(spec).get("user", {}).get("username", ""))
    return any(part and not part.isdigit() for part in request.split(":"))


def with_resolved_user(passwd: str, group: str) -> Step:
    """Finish the `process.user` of `with_user` from the rootfs's /etc/passwd and /etc/group.

    The adapter that can read the image's files applies this step (via `apply`) before
    creating the container (with empty texts for an image without them). The additional gids
    are those of `resolve_user`, then the CRI's supplemental groups, without duplicates. A
    spec without a request is unchanged.
    """

    def step(spec: Spec) -> None:
        entry = process(spec).get("user", {})
        user = entry.pop("username", "")
        if not user:
            return
        uid, gid, extra = resolve_user(user, passwd, group)
        entry["uid"], entry["gid"] = uid, gid
        entry["additionalGids"] = list(dict.fromkeys([*extra, *entry.get("additionalGids", [])]))

    return step
