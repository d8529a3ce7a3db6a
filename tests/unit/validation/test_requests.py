"""Whole requests: what hexcri cannot do answers Unimplemented after the fields are checked;
a pod without a log directory gives its containers no log."""

import pytest

from domain.errors import InvalidArgument, Unimplemented
from domain.model import (
    IdMapping,
    Mount,
    NamespaceMode,
    NamespaceOptions,
    SandboxSecurity,
    UserNamespace,
)
from domain.services import container_create
from domain.spec.node import NodeOptions
from domain.validation.container import check_container
from domain.validation.sandbox import check_sandbox
from tests.support.harness import Harness
from tests.unit.conftest import container, pod

NODE = NodeOptions()


def test_image_volumes_and_rro_are_unimplemented() -> None:
    for mount in (
        Mount(container_path="/img", host_path="", image="busybox"),
        Mount(container_path="/m", host_path="/tmp", readonly=True, recursive_read_only=True),
    ):
        with pytest.raises(Unimplemented):
            check_container(container(mounts=(mount,)), pod(), NODE)


def test_pod_user_namespaces_are_unimplemented() -> None:
    ids = (IdMapping(container_id=0, host_id=100000, length=65536),)
    userns = UserNamespace(mode=NamespaceMode.POD, uids=ids, gids=ids)
    security = SandboxSecurity(namespace_options=NamespaceOptions(userns=userns))
    with pytest.raises(Unimplemented):
        check_sandbox(pod(security=security), "", ("",), NODE)


def test_a_good_request_passes() -> None:
    check_sandbox(pod(hostname="web", log_directory="/var/log/pods/x"), "runc", ("", "runc"), NODE)
    check_container(container(log_path="c/0.log", command=("sleep", "1")), pod(), NODE)


def test_container_checks_use_the_pods_log_directory() -> None:
    with pytest.raises(InvalidArgument, match="log_path"):
        check_container(container(log_path="../x.log"), pod(log_directory="/logs"), NODE)


async def test_a_pod_without_log_directory_gives_no_log(ctx: Harness) -> None:
    sid = await ctx.sandbox_run.run_pod_sandbox(pod())
    await ctx.image_pull.pull_image("busybox")
    cid = await ctx.container_create.create_container(sid, container(log_path="c.log"))
    created = ctx.containers.get(cid)
    assert container_create.log_path(created.config, ctx.sandboxes.get(sid)) == ""
