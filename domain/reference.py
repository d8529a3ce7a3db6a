"""Image reference parsing and normalisation, after the distribution/reference grammar."""

from __future__ import annotations

import re
from dataclasses import dataclass

from domain.errors import InvalidArgument
from domain.validation.text import quote

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_DOMAIN = re.compile(
    r"^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
    r"(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[0-9a-fA-F:.]+\])"
    r"(?::[0-9]+)?$"
)
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$")
_SHA256 = re.compile(r"^sha256:[a-f0-9]{64}$")


@dataclass(frozen=True, slots=True)
class Reference:
    """A fully qualified reference: domain, path, and a tag and/or digest."""

    domain: str
    path: str
    tag: str = ""
    digest: str = ""

    @property
    def repository(self) -> str:
        return f"{self.domain}/{self.path}"

    def __str__(self) -> str:
        out = self.repository
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out

    def tagged(self) -> str:
        """`repo:tag`, the form of a RepoTag; empty when there is no tag."""
        return f"{self.repository}:{self.tag}" if self.tag else ""

    def digested(self, digest: str) -> str:
        """`repo@digest`, the form of a RepoDigest."""
        return f"{self.repository}@{digest}"


def _split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        domain, path = first, rest
    else:
        domain, path = DEFAULT_DOMAIN, name
    if domain == LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_PREFIX + path
    return domain, path


def parse(text: str, default_tag: bool = True) -> Reference:
    """Parse and normalise `text`; adds `:latest` when it names neither tag nor digest."""
    if not text or text != text.strip():
        raise InvalidArgument(f"invalid image reference {quote(text)}")
    name, digest = text, ""
    if "@" in name:
        name, _, digest = name.partition("@")
        if not _DIGEST.match(digest):
            raise InvalidArgument(f"invalid digest in image reference {quote(text)}")
    tag = ""
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG.match(tag):
            raise InvalidArgument(f"invalid tag in image reference {quote(text)}")
    domain, path = _split_domain(name)
    if domain != domain.lower() and "." not in domain and ":" not in domain:
        raise InvalidArgument(
            f"invalid image reference {quote(text)}: repository name must be lowercase"
        )
    if not _DOMAIN.match(domain) or not _PATH.match(path) or len(name) > 255:
        raise InvalidArgument(f"invalid image reference {quote(text)}")
    if not tag and not digest and default_tag:
        tag = DEFAULT_TAG
    return Reference(domain=domain, path=path, tag=tag, digest=digest)


def is_image_id(text: str) -> bool:
    """Whether `text` is an image ID (`sha256:<64 hex>` or the bare 64 hex)."""
    return bool(_SHA256.match(text)) or bool(re.fullmatch(r"[a-f0-9]{64}", text))


def normalise_image_id(text: str) -> str:
    return text if text.startswith("sha256:") else f"sha256:{text}"
