"""Static pods on the memory fakes: init containers in order, restart back-off, file change
and removal, and no duplicates when a new reconciler finds what a killed one made."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.manifest.convert import CONTAINER_NAME, POD_NAME, POD_UID, NodeFacts
from adapters.manifest.static import StaticPods
from adapters.memory.backend import MemoryBackend
from adapters.memory.clock import FakeClock
from domain.model import ContainerState, SandboxState
from tests.support.harness import Harness
from tests.unit.conftest import settle

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {{app: web}}
spec:
  restartPolicy: {policy}
  terminationGracePeriodSeconds: 0
  volumes:
  - name: www
    emptyDir: {{}}
  - name: conf
    configMap: {{name: conf}}
  initContainers:
  - name: fill
    image: busybox:1.36
    command: [sh, -c, "echo filled"]
    volumeMounts: [{{name: www, mountPath: /www}}]
  containers:
  - name: serve
    image: busybox:1.36
    command: [httpd, -f, -p, "8080"]
    volumeMounts: [{{name: www, mountPath: /www}}, {{name: conf, mountPath: /etc/conf}}]
  - name: side
    image: busybox:1.36
    command: [{side}]
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: conf}}
data: {{greeting: hello}}
"""


def write(directory: Path, policy: str = "Always", side: str = "sleep, '3600'") -> Path:
    path = directory / "web.yaml"
    path.write_text(POD.format(policy=policy, side=side))
    return path


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def backend(clock: FakeClock) -> MemoryBackend:
    return MemoryBackend(clock=clock)


def static(ctx: Harness, directory: Path) -> StaticPods:
    return StaticPods(ctx.uses, str(directory), NodeFacts(memory_capacity=1 << 30))


def containers(ctx: Harness, name: str) -> list:
    return sorted(
        (c for c in ctx.containers.all() if c.config.labels[CONTAINER_NAME] == name),
        key=lambda c: c.config.metadata.attempt,
    )


async def sync(pods: StaticPods, times: int = 1) -> None:
    for _ in range(times):
        await pods.sync()
        await settle()


async def test_init_container_runs_before_the_app_containers(ctx: Harness, tmp_path: Path) -> None:
    write(tmp_path)
    pods = static(ctx, tmp_path)
    await pods.sync()
    (sandbox,) = ctx.sandboxes.all()
    assert sandbox.config.labels[POD_NAME] == "web"
    assert sandbox.config.labels["app"] == "web"
    assert [c.config.metadata.name for c in ctx.containers.all()] == ["fill"]
    await settle()
    await sync(pods)
    names = sorted(c.config.metadata.name for c in ctx.containers.all())
    assert names == ["fill", "serve", "side"]
    (serve,) = containers(ctx, "serve")
    assert serve.state == ContainerState.RUNNING
    assert serve.config.labels[POD_UID] == sandbox.config.metadata.uid
    paths = {m.container_path: m.host_path for m in serve.config.mounts}
    (fill,) = containers(ctx, "fill")
    assert paths["/www"] == fill.config.mounts[0].host_path
    assert paths["/etc/conf"].endswith(f"{sandbox.id}/volumes/conf")


async def test_failing_init_container_blocks_the_pod_and_is_retried(
    ctx: Harness, backend: MemoryBackend, clock: FakeClock, tmp_path: Path
) -> None:
    path = write(tmp_path, policy="OnFailure")
    path.write_text(path.read_text().replace("echo filled", "exit 3"))
    pods = static(ctx, tmp_path)
    await sync(pods, 3)
    fills = containers(ctx, "fill")
    assert [c.exit_code for c in fills] == [3, 3]  # one immediate restart, then back-off
    assert not containers(ctx, "serve")
    clock.advance(11)
    await sync(pods)
    assert [c.config.metadata.attempt for c in containers(ctx, "fill")] == [1, 2]


async def test_never_restart_policy_leaves_a_failed_init_container(
    ctx: Harness, tmp_path: Path
) -> None:
    path = write(tmp_path, policy="Never")
    path.write_text(path.read_text().replace("echo filled", "exit 3"))
    pods = static(ctx, tmp_path)
    await sync(pods, 3)
    assert len(containers(ctx, "fill")) == 1
    assert not containers(ctx, "serve")
    assert set(pods.phases.values()) == {"Failed"}


async def test_restart_back_off_doubles(ctx: Harness, clock: FakeClock, tmp_path: Path) -> None:
    write(tmp_path, side="sh, -c, 'exit 1'")
    pods = static(ctx, tmp_path)
    await sync(pods, 3)
    assert [c.config.metadata.attempt for c in containers(ctx, "side")] == [0, 1]
    for wait, attempts in ((5, [0, 1]), (6, [1, 2]), (15, [1, 2]), (6, [2, 3])):
        clock.advance(wait)
        await sync(pods, 2)
        assert [c.config.metadata.attempt for c in containers(ctx, "side")] == attempts
    assert (
        containers(ctx, "side")[-1].config.annotations["io.kubernetes.container.restartCount"]
        == "3"
    )


async def test_a_changed_file_replaces_the_pod(ctx: Harness, tmp_path: Path) -> None:
    path = write(tmp_path)
    pods = static(ctx, tmp_path)
    await sync(pods, 2)
    (old,) = ctx.sandboxes.all()
    path.write_text(path.read_text().replace("hello", "bonjour"))
    await sync(pods)
    (new,) = ctx.sandboxes.all()
    assert new.id != old.id
    assert new.config.metadata.uid == old.config.metadata.uid
    assert new.config.metadata.attempt == 1
    assert all(c.sandbox_id == new.id for c in ctx.containers.all())


async def test_a_removed_file_removes_its_pods(
    ctx: Harness, backend: MemoryBackend, tmp_path: Path
) -> None:
    path = write(tmp_path)
    pods = static(ctx, tmp_path)
    await sync(pods, 2)
    (sandbox,) = ctx.sandboxes.all()
    path.unlink()
    await sync(pods)
    assert ctx.sandboxes.all() == []
    assert ctx.containers.all() == []
    assert not backend.files.volumes
    assert backend.files.log_dirs_removed == [sandbox.config.log_directory]


async def test_an_invalid_file_keeps_its_pods(ctx: Harness, tmp_path: Path) -> None:
    path = write(tmp_path)
    pods = static(ctx, tmp_path)
    await sync(pods, 2)
    path.write_text(
        path.read_text().replace("command: [httpd", "livenessProbe: {}\n    command: [httpd")
    )
    await sync(pods)
    assert len(ctx.sandboxes.all()) == 1
    assert "spec.containers[0].livenessProbe: not supported" in pods.errors[str(path)]


async def test_a_new_reconciler_adopts_the_pods_after_a_crash(
    backend: MemoryBackend, tmp_path: Path
) -> None:
    write(tmp_path)
    first = Harness(ports=backend.ports())
    await sync(static(first, tmp_path), 2)
    (sandbox,) = first.sandboxes.all()
    # a new process: the stores are rebuilt from the state store and the runtime
    second = Harness(ports=backend.ports())
    await second.recovery.recover()
    await sync(static(second, tmp_path), 2)
    assert [s.id for s in second.sandboxes.all()] == [sandbox.id]
    assert second.sandboxes.get(sandbox.id).state == SandboxState.READY
    assert len(containers(second, "serve")) == 1


async def test_a_failing_pull_is_retried_with_back_off(
    ctx: Harness, backend: MemoryBackend, clock: FakeClock, tmp_path: Path
) -> None:
    path = write(tmp_path)
    path.write_text(path.read_text().replace("busybox:1.36", "bad..name"))
    pods = static(ctx, tmp_path)
    await sync(pods)
    (sandbox,) = ctx.sandboxes.all()
    assert "pod default/web" in pods.errors
    first = pods.retry[sandbox.config.metadata.uid]
    clock.advance(5)
    await sync(pods)  # within the back-off: not retried
    assert pods.retry[sandbox.config.metadata.uid] == first
    clock.advance(6)
    await sync(pods)  # retried, failed again: the delay doubles
    assert pods.retry[sandbox.config.metadata.uid][1] == 2 * first[1]
    path.write_text(path.read_text().replace("bad..name", "busybox:1.36"))
    await sync(pods, 2)  # an edit is tried at once
    assert "pod default/web" not in pods.errors
    assert containers(ctx, "serve")
