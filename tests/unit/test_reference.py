import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidArgument
from domain.reference import is_image_id, parse

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("busybox", "docker.io/library/busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36"),
        ("library/busybox", "docker.io/library/busybox:latest"),
        ("docker.io/busybox", "docker.io/library/busybox:latest"),
        ("index.docker.io/library/busybox", "docker.io/library/busybox:latest"),
        ("user/app:v1", "docker.io/user/app:v1"),
        ("registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.9"),
        ("localhost:5000/a/b", "localhost:5000/a/b:latest"),
        ("localhost/app", "localhost/app:latest"),
        ("127.0.0.1:5000/app:tag", "127.0.0.1:5000/app:tag"),
        (f"busybox@{DIGEST}", f"docker.io/library/busybox@{DIGEST}"),
        (f"busybox:1.0@{DIGEST}", f"docker.io/library/busybox:1.0@{DIGEST}"),
    ],
)
def test_normalisation(text: str, expected: str) -> None:
    assert str(parse(text)) == expected


@pytest.mark.parametrize(
    "text",
    ["", " busybox", "Busybox", "busybox:", "busybox@sha256:xyz", "a//b", "busybox:-x", "a:b:c"],
)
def test_invalid_references(text: str) -> None:
    with pytest.raises(InvalidArgument):
        parse(text)


def test_image_ids() -> None:
    assert is_image_id(DIGEST)
    assert is_image_id("a" * 64)
    assert not is_image_id("busybox")


component = st.from_regex(r"[a-z0-9]{1,8}(?:[_-][a-z0-9]{1,8})?", fullmatch=True)
tag = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)
domain = st.sampled_from(["", "docker.io/", "gcr.io/", "localhost:5000/", "registry.k8s.io/"])


@given(domain, st.lists(component, min_size=1, max_size=3), st.one_of(st.none(), tag))
def test_parse_is_idempotent_and_keeps_parts(dom: str, path: list[str], t: str | None) -> None:
    text = dom + "/".join(path) + (f":{t}" if t else "")
    ref = parse(text)
    assert parse(str(ref)) == ref
    assert ref.tag == (t or "latest")
    assert ref.path.endswith("/".join(path))
    assert str(ref).startswith(ref.domain + "/")
