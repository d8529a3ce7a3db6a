"""Capabilities: CRI add/drop with ALL, prefix normalisation, privileged sets."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from domain.model import Capabilities
from domain.spec.capabilities import (
    ALL_CAPABILITIES,
    DEFAULT_CAPABILITIES,
    normalize,
    with_cri_capabilities,
    without_ambient_capabilities,
)
from domain.spec.defaults import default_spec
from domain.spec.pipeline import apply


def caps_after(add: tuple[str, ...] = (), drop: tuple[str, ...] = ()) -> dict[str, list[str]]:
    step = with_cri_capabilities(Capabilities(add=add, drop=drop), ALL_CAPABILITIES)
    return apply(default_spec(), [step])["process"]["capabilities"]  # type: ignore[no-any-return]


def test_normalize() -> None:
    assert normalize("chown") == normalize("CHOWN") == normalize("CAP_CHOWN") == "CAP_CHOWN"


def test_add_and_drop_named() -> None:
    caps = caps_after(add=("NET_ADMIN", "cap_sys_time"), drop=("KILL",))
    for key in ("bounding", "effective", "permitted"):
        assert "CAP_NET_ADMIN" in caps[key] and "CAP_SYS_TIME" in caps[key]
        assert "CAP_KILL" not in caps[key]
    assert "inheritable" not in caps and "ambient" not in caps


def test_add_all_then_drop_one() -> None:
    caps = caps_after(add=("ALL",), drop=("CHOWN",))
    assert set(caps["effective"]) == set(ALL_CAPABILITIES) - {"CAP_CHOWN"}


def test_drop_all_then_add_one() -> None:
    caps = caps_after(add=("NET_BIND_SERVICE",), drop=("all",))
    assert all(caps[k] == ["CAP_NET_BIND_SERVICE"] for k in caps)


def test_no_ambient_capabilities() -> None:
    spec = default_spec()
    spec["process"]["capabilities"]["ambient"] = ["CAP_KILL"]
    assert "ambient" not in apply(spec, [without_ambient_capabilities])["process"]["capabilities"]


names = st.lists(
    st.sampled_from(["CHOWN", "kill", "CAP_NET_ADMIN", "SYS_ADMIN", "ALL", "all", "net_raw"]),
    max_size=4,
).map(tuple)


@given(add=names, drop=names)
def test_add_drop_laws(add: tuple[str, ...], drop: tuple[str, ...]) -> None:
    caps = caps_after(add, drop)
    named_add = {normalize(c) for c in add if c.upper() != "ALL"}
    named_drop = {normalize(c) for c in drop if c.upper() != "ALL"}
    if any(c.upper() == "ALL" for c in drop):
        base: set[str] = set()
    elif any(c.upper() == "ALL" for c in add):
        base = set(ALL_CAPABILITIES)
    else:
        base = set(DEFAULT_CAPABILITIES)
    expected = (base | named_add) - named_drop
    for key in ("bounding", "effective", "permitted"):
        assert set(caps[key]) == expected
        assert len(caps[key]) == len(set(caps[key]))
