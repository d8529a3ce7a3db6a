"""List filters: ID prefix, state, sandbox and label selector, as ListPodSandbox and
ListContainers take them."""

from __future__ import annotations

from pydantic import Field

from domain.errors import InvalidArgument
from domain.model import Container, ContainerState, Frozen, Image, Sandbox, SandboxState
from domain.validation.text import quote


class SandboxFilter(Frozen):
    id: str = ""
    state: SandboxState | None = None
    label_selector: dict[str, str] = Field(default_factory=dict)


class ContainerFilter(Frozen):
    id: str = ""
    state: ContainerState | None = None
    sandbox_id: str = ""
    label_selector: dict[str, str] = Field(default_factory=dict)


def validate_selector(selector: dict[str, str]) -> None:
    """A selector key must be non-empty (values may be empty: an exact-match on "")."""
    for key in selector:
        if not key or key != key.strip():
            raise InvalidArgument(f"invalid label selector key {quote(key)}")


def labels_match(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def match_sandbox(f: SandboxFilter, sandbox: Sandbox) -> bool:
    return (
        sandbox.id.startswith(f.id)
        and (f.state is None or sandbox.state.shown == f.state)
        and labels_match(f.label_selector, sandbox.config.labels)
    )


def match_container(f: ContainerFilter, container: Container) -> bool:
    return (
        container.id.startswith(f.id)
        and container.sandbox_id.startswith(f.sandbox_id)
        and (f.state is None or container.state == f.state)
        and labels_match(f.label_selector, container.config.labels)
    )


def match_image(ref: str, image: Image) -> bool:
    """ListImages' filter: the image answers to `ref` as a tag, digest or ID."""
    return not ref or ref == image.id or ref in image.repo_tags or ref in image.repo_digests
