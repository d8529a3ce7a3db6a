"""The process user: CRI over image, numeric resolution, names resolved later."""

from __future__ import annotations

import pytest

from domain.errors import InvalidArgument
from domain.spec.defaults import default_spec
from domain.spec.pipeline import apply
from domain.spec.user import (
    needs_passwd,
    requested_user,
    resolve_user,
    user_string,
    with_resolved_user,
    with_supplemental_groups,
    with_user,
)

PASSWD = """root:x:0:0:root:/root:/bin/sh
# comment
nginx:x:101:102:nginx:/:/sbin/nologin
app:x:1000:1000::/home/app:/bin/sh
"""
GROUP = """root:x:0:
nginx:x:102:
staff:x:50:app,other
video:x:44:app
"""


@pytest.mark.parametrize(
    ("username", "uid", "gid", "expected"),
    [
        ("", None, None, ""),
        ("bob", None, None, "bob"),
        ("bob", 5, None, "bob"),
        ("bob", 5, 7, "bob:7"),
        ("bob", None, 7, "bob:7"),
        ("", 5, None, "5"),
        ("", 5, 7, "5:7"),
        ("", 0, 0, "0:0"),
    ],
)
def test_user_string(username: str, uid: int | None, gid: int | None, expected: str) -> None:
    assert user_string(username, uid, gid) == expected


def test_group_without_user_is_invalid() -> None:
    with pytest.raises(InvalidArgument):
        user_string("", None, 7)


def test_cri_user_beats_image_user() -> None:
    assert requested_user("", 1000, None, "nginx") == "1000"
    assert requested_user("", None, None, "nginx") == "nginx"


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("", {"uid": 0, "gid": 0, "username": "0"}),
        ("1000", {"uid": 1000, "gid": 0, "username": "1000"}),
        ("1000:50", {"uid": 1000, "gid": 50, "username": "1000:50"}),
        ("nginx", {"uid": 0, "gid": 0, "username": "nginx"}),
        ("app:50", {"uid": 0, "gid": 50, "username": "app:50"}),
        ("1000:staff", {"uid": 1000, "gid": 0, "username": "1000:staff"}),
    ],
)
def test_with_user(user: str, expected: dict[str, object]) -> None:
    assert apply(default_spec(), [with_user(user)])["process"]["user"] == expected


def test_supplemental_groups_are_appended_once() -> None:
    spec = apply(default_spec(), [with_supplemental_groups([5, 6, 5])])
    assert spec["process"]["user"]["additionalGids"] == [5, 6]
    assert (
        "additionalGids"
        not in apply(default_spec(), [with_supplemental_groups([])])["process"]["user"]
    )


def test_resolve_user() -> None:
    assert resolve_user("nginx", PASSWD, GROUP) == (101, 102, [102])
    assert resolve_user("app", PASSWD, GROUP) == (1000, 1000, [1000, 50, 44])
    assert resolve_user("app:staff", PASSWD, GROUP) == (1000, 50, [50, 44])
    assert resolve_user("1000", PASSWD, GROUP) == (1000, 1000, [1000, 50, 44])
    assert resolve_user("4242", PASSWD, GROUP) == (4242, 0, [0])
    assert resolve_user("4242:7", "", "") == (4242, 7, [7])
    with pytest.raises(InvalidArgument):
        resolve_user("ghost", PASSWD, GROUP)
    with pytest.raises(InvalidArgument):
        resolve_user("app:ghosts", PASSWD, GROUP)


def test_with_resolved_user_finishes_a_named_user() -> None:
    spec = apply(default_spec(), [with_user("app"), with_supplemental_groups([9])])
    done = apply(spec, [with_resolved_user(PASSWD, GROUP)])
    assert done["process"]["user"] == {
        "uid": 1000, "gid": 1000, "additionalGids": [1000, 50, 44, 9]
    }  # fmt: skip
    numeric = apply(default_spec(), [with_user("7:8")])
    assert apply(numeric, [with_resolved_user("", "")])["process"]["user"] == {
        "uid": 7, "gid": 8, "additionalGids": [8]
    }  # fmt: skip


BUSYBOX_GROUP = "root:x:0:\ndaemon:x:1:\nwheel:x:10:root\n"
BUSYBOX_PASSWD = "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\n"


@pytest.mark.parametrize(
    ("user", "supplemental", "gids"),
    [
        ("", [], [0, 10]),  # busybox as root: groups=0(root),10(wheel)
        ("", [1, 1234], [0, 10, 1, 1234]),
        ("1234", [], [0]),  # not in passwd: gid 0, no groups
        ("root", [10], [0, 10]),
        ("1", [], [1]),  # daemon, a member of no group
    ],
)
def test_additional_gids_as_containerd(user: str, supplemental: list[int], gids: list[int]) -> None:
    """containerd's WithAdditionalGIDs then WithSupplementalGroups, as `id` shows them."""
    spec = apply(default_spec(), [with_user(user), with_supplemental_groups(supplemental)])
    done = apply(spec, [with_resolved_user(BUSYBOX_PASSWD, BUSYBOX_GROUP)])
    assert done["process"]["user"]["additionalGids"] == gids
    assert "username" not in done["process"]["user"]


def test_needs_passwd_only_for_names() -> None:
    assert not needs_passwd(apply(default_spec(), [with_user("")]))
    assert not needs_passwd(apply(default_spec(), [with_user("7:8")]))
    assert needs_passwd(apply(default_spec(), [with_user("app")]))
    assert needs_passwd(apply(default_spec(), [with_user("7:staff")]))
