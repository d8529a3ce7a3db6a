"""Names, IDs, hostnames, env and argv."""

import pytest

from domain.errors import InvalidArgument
from domain.model import KeyValue
from domain.validation.names import check_argv, check_env, check_hostname, check_name


@pytest.mark.parametrize(
    "name", ["", "a\x00b", "x" * 1_000_000, "ns;x", "a=b", "it's", 'say"', "a b", "a\nb"]
)
def test_pod_names_cni_args_cannot_carry_are_refused(name: str) -> None:
    with pytest.raises(InvalidArgument, match=r"^metadata\.namespace "):
        check_name("metadata.namespace", name, cni=True)


def test_container_names_bounded_without_control_characters() -> None:
    check_name("metadata.name", "my_container-1.x")
    for bad in ("x" * (1 << 20), "a\x00"):
        with pytest.raises(InvalidArgument) as caught:
            check_name("metadata.name", bad)
        assert len(str(caught.value)) < 200


@pytest.mark.parametrize("hostname", ["h" * 65, "under_score", "-lead", "a..b", "trail-", "a b"])
def test_hostnames_must_be_rfc1123(hostname: str) -> None:
    with pytest.raises(InvalidArgument, match=r"^hostname "):
        check_hostname("hostname", hostname)


def test_good_hostnames() -> None:
    for name in ("", "web", "web-1.example.com", "A1", "h" * 63):
        check_hostname("hostname", name)


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [("", "v", "key"), ("A=B", "v", "key"), ("A\x00", "v", "key"), ("A", "v\x00", "value")],
)
def test_env_names(key: str, value: str, field: str) -> None:
    with pytest.raises(InvalidArgument, match=rf"^envs\[0\]\.{field} "):
        check_env("envs", [KeyValue(key=key, value=value)])


def test_argv_without_nul_and_bounded() -> None:
    assert check_argv("command", ["sh", "-c", "x"]) == 8
    with pytest.raises(InvalidArgument, match=r"^args\[1\] "):
        check_argv("args", ["ok", "a\x00b"])
    with pytest.raises(InvalidArgument, match="longer"):
        check_argv("args", ["x" * 200_000])
