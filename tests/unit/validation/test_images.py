"""PullImage's reference and auth."""

import pytest

from domain.errors import InvalidArgument
from domain.model import AuthConfig
from domain.validation.images import check_pull


def test_uppercase_repository_is_refused_at_once() -> None:
    with pytest.raises(InvalidArgument, match="lowercase"):
        check_pull("UPPER/case", None)


def test_hosts_with_a_dot_or_port_may_have_capitals() -> None:
    assert check_pull("Registry.Example.com/app", None).domain == "Registry.Example.com"


def test_long_references_are_not_echoed_whole() -> None:
    with pytest.raises(InvalidArgument) as caught:
        check_pull("a" * (1 << 20), None)
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize("field", ["server_address", "username"])
def test_newlines_in_auth_are_refused(field: str) -> None:
    with pytest.raises(InvalidArgument, match=f"^auth.{field} "):
        check_pull("busybox", AuthConfig(**{field: "reg.example.com\nx"}))  # type: ignore[arg-type]


def test_secrets_are_never_quoted() -> None:
    with pytest.raises(InvalidArgument) as caught:
        check_pull("busybox", AuthConfig(password="hunter2\n"))
    assert "hunter2" not in str(caught.value)
