"""uid/gid ranges, supplemental groups, user namespaces."""

import pytest

from domain.errors import InvalidArgument, Unimplemented
from domain.model import IdMapping, NamespaceMode, UserNamespace
from domain.validation.identities import check_groups, check_id, check_user_namespace


@pytest.mark.parametrize("uid", [-1, 2**40, 2**32 - 1, 2**31])
def test_ids_out_of_range_are_refused(uid: int) -> None:
    with pytest.raises(InvalidArgument, match="run_as_user"):
        check_id("run_as_user", uid)


def test_ids_in_range_are_accepted() -> None:
    for uid in (None, 0, 65534, 2**31 - 1):
        check_id("run_as_user", uid)


def test_negative_supplemental_groups_are_refused() -> None:
    check_groups("g", [0, 1, 1234])
    with pytest.raises(InvalidArgument, match=r"g\[1\]"):
        check_groups("g", [1, -5])


def mapping(container: int, host: int, length: int) -> IdMapping:
    return IdMapping(container_id=container, host_id=host, length=length)


def test_user_namespace_mappings() -> None:
    check_user_namespace("u", None)
    check_user_namespace("u", UserNamespace(mode=NamespaceMode.NODE))
    whole = UserNamespace(
        mode=NamespaceMode.POD, uids=(mapping(2, 0, 2**32 - 1),), gids=(mapping(0, 0, 1),)
    )
    with pytest.raises(InvalidArgument, match="32-bit"):
        check_user_namespace("u", whole)
    empty = UserNamespace(mode=NamespaceMode.POD, uids=(mapping(0, 0, 0),))
    with pytest.raises(InvalidArgument, match="length"):
        check_user_namespace("u", empty)
    with pytest.raises(InvalidArgument, match="no ID mappings"):
        check_user_namespace("u", UserNamespace(uids=(mapping(0, 0, 1),)))
    good = UserNamespace(
        mode=NamespaceMode.POD, uids=(mapping(0, 65536, 65536),), gids=(mapping(0, 65536, 65536),)
    )
    with pytest.raises(Unimplemented):
        check_user_namespace("u", good)
