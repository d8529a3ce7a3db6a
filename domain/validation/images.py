"""PullImage's request: a well-formed reference, auth fields without control characters."""

from __future__ import annotations

from domain.errors import InvalidArgument
from domain.model import AuthConfig
from domain.reference import Reference, parse
from domain.validation.text import check_plain

REFERENCE_LIMIT = 4096
SECRET_LIMIT = 64 * 1024
_SECRETS = ("password", "auth", "identity_token", "registry_token")


def check_pull(image: str, auth: AuthConfig | None) -> Reference:
    """The parsed reference; InvalidArgument for a malformed one or a bad auth field (a
    secret is never quoted)."""
    check_plain("image.image", image, REFERENCE_LIMIT)
    ref = parse(image)
    if auth is not None:
        check_plain("auth.server_address", auth.server_address, REFERENCE_LIMIT)
        check_plain("auth.username", auth.username, SECRET_LIMIT)
        for field in _SECRETS:
            value: str = getattr(auth, field)
            if len(value) > SECRET_LIMIT or any(c in value for c in "\x00\r\n"):
                raise InvalidArgument(
                    f"auth.{field}: must be at most {SECRET_LIMIT} bytes, without NUL or newlines"
                )
    return ref
