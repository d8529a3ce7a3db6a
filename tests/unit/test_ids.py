import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidArgument, NotFound
from domain.ids import IdIndex, is_full_id, new_id


def test_new_ids_are_64_hex_and_distinct() -> None:
    ids = {new_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(is_full_id(i) for i in ids)


def test_prefix_resolution() -> None:
    index = IdIndex("container")
    index.add("abc1" + "0" * 60)
    index.add("abd2" + "0" * 60)
    assert index.resolve("abc") == "abc1" + "0" * 60
    with pytest.raises(InvalidArgument, match="ambiguous"):
        index.resolve("ab")
    with pytest.raises(NotFound):
        index.resolve("ff")
    with pytest.raises(InvalidArgument):
        index.resolve("")


@given(st.sets(st.text("0123456789abcdef", min_size=64, max_size=64), max_size=30), st.data())
def test_resolve_agrees_with_linear_scan(ids: set[str], data: st.DataObject) -> None:
    index = IdIndex("x")
    for i in ids:
        index.add(i)
    prefix = data.draw(st.text("0123456789abcdef", min_size=1, max_size=4))
    matches = [i for i in ids if i.startswith(prefix)]
    if len(matches) == 1:
        assert index.resolve(prefix) == matches[0]
    elif not matches:
        with pytest.raises(NotFound):
            index.resolve(prefix)
    else:
        with pytest.raises(InvalidArgument):
            index.resolve(prefix)
    assert sorted(index.matching(prefix)) == sorted(matches)
