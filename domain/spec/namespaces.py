"""Linux namespaces: the sandbox's own, and the containers' joined from the sandbox."""

from __future__ import annotations

from domain.errors import FailedPrecondition
from domain.model import NamespaceMode, NamespaceOptions
from domain.spec.pipeline import Spec, Step, linux
from domain.validation.text import quote


def ns_path(pid: int, kind: str) -> str:
    """The namespace of process `pid`, as runc joins it (`net` for the network one)."""
    return f"/proc/{pid}/ns/{'net' if kind == 'network' else kind}"


def with_namespace(kind: str, path: str = "") -> Step:
    """Create (no path) or join (path) the namespace `kind`, replacing any entry for it."""

    def step(spec: Spec) -> None:
        entries = [n for n in linux(spec).get("namespaces", []) if n["type"] != kind]
        entries.append({"type": kind, "path": path} if path else {"type": kind})
        linux(spec)["namespaces"] = entries

    return step


def without_namespace(kind: str) -> Step:
    """Share the host's namespace `kind`."""

    def step(spec: Spec) -> None:
        entries = linux(spec).get("namespaces", [])
        linux(spec)["namespaces"] = [n for n in entries if n["type"] != kind]

    return step


def sandbox_namespaces(options: NamespaceOptions, netns_path: str) -> list[Step]:
    """The pause container's namespaces.

    Network: the pod's pinned netns at `netns_path` (a new one when no path is known), or
    the host's together with its UTS namespace for host network. PID and IPC: new unless
    NODE. Mount: always new.
    """
    steps: list[Step] = []
    if options.network == NamespaceMode.NODE:
        steps += [without_namespace("network"), without_namespace("uts")]
    else:
        steps.append(with_namespace("network", netns_path))
    if options.pid == NamespaceMode.NODE:
        steps.append(without_namespace("pid"))
    if options.ipc == NamespaceMode.NODE:
        steps.append(without_namespace("ipc"))
    return steps


def container_namespaces(
    pod: NamespaceOptions,
    container: NamespaceOptions,
    sandbox_pid: int,
    target_pid: int | None = None,
) -> list[Step]:
    """An application container's namespaces.

    Network, IPC and UTS follow the pod: joined from the sandbox process, or the host's
    when the pod uses the node's (UTS with the network). PID follows the container's
    option: POD joins the sandbox's, CONTAINER gets a new one, NODE the host's, TARGET
    joins the namespace of the target container's process (`target_pid`). Mount is new.
    """
    joins: list[str] = []
    steps: list[Step] = []
    if pod.network == NamespaceMode.NODE:
        steps += [without_namespace("network"), without_namespace("uts")]
    else:
        joins += ["network", "uts"]
    if pod.ipc == NamespaceMode.NODE:
        steps.append(without_namespace("ipc"))
    else:
        joins.append("ipc")
    if container.pid == NamespaceMode.NODE or pod.pid == NamespaceMode.NODE:
        steps.append(without_namespace("pid"))
    elif container.pid == NamespaceMode.POD:
        joins.append("pid")
    elif container.pid == NamespaceMode.TARGET:
        if not target_pid:
            raise FailedPrecondition(
                f"target container {quote(container.target_id)} of the PID namespace is not running"
            )
        steps.append(with_namespace("pid", ns_path(target_pid, "pid")))
    else:
        steps.append(with_namespace("pid"))
    if joins and sandbox_pid <= 0:
        raise FailedPrecondition("the sandbox has no running process to share namespaces with")
    steps += [with_namespace(kind, ns_path(sandbox_pid, kind)) for kind in joins]
    steps.append(with_namespace("mount"))
    return steps
