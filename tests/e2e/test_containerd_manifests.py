"""Static pods on the real stack: `hexcri serve` with `manifest_dir` runs Kubernetes Pod
manifests (no kubelet), and the test watches them through the CRI socket as crictl would.

Traffic goes only to the pod network the stack creates.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import grpc
import httpx
import pytest
from cri_api.v1 import api_pb2 as cri
from cri_api.v1 import api_pb2_grpc as cri_grpc

from tests.e2e.conftest import Cri
from tests.e2e.test_containerd_network import assert_nothing_left
from tests.support.stack import Stack, running_stack

pytestmark = [pytest.mark.containerd, pytest.mark.registry, pytest.mark.cni]

T = TypeVar("T")

MANIFEST = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {{app: web}}
spec:
  terminationGracePeriodSeconds: 2
  volumes:
  - name: www
    emptyDir: {{}}
  - name: scratch
    emptyDir: {{medium: Memory}}
  - name: text
    configMap: {{name: text}}
  initContainers:
  - name: page
    image: busybox
    command: [sh, -c, "cat /etc/text/page > /www/index.html"]
    volumeMounts: [{{name: www, mountPath: /www}}, {{name: text, mountPath: /etc/text}}]
  containers:
  - name: serve
    image: busybox
    command: [httpd, -f, -p, "8080", -h, /www]
    volumeMounts: [{{name: www, mountPath: /www, readOnly: true}}]
  - name: crash
    image: busybox
    command: [sh, -c, "grep ' /scratch tmpfs ' /proc/mounts && echo crashing; exit 3"]
    volumeMounts: [{{name: scratch, mountPath: /scratch}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: text}}
data: {{page: "{page}"}}
"""


@pytest.fixture
def static_stack(tmp_path: Path) -> Iterator[Stack]:
    with running_stack(start_hexcri=False) as s:
        s.env["HEXCRI_MANIFEST_DIR"] = str(s.root / "manifests")
        s.env["HEXCRI_MANIFEST_LOG_DIR"] = str(s.root / "pod-logs")
        (s.root / "manifests").mkdir()
        try:
            yield s
        finally:  # shown by pytest when the test failed
            if s.hexcri_log.exists():
                print(f"--- hexcri log ---\n{s.hexcri_log.read_text()[-8000:]}")


@contextlib.asynccontextmanager
async def connect(stack: Stack) -> AsyncIterator[Cri]:
    async with grpc.aio.insecure_channel(f"unix://{stack.socket}") as channel:
        yield Cri(cri_grpc.RuntimeServiceStub(channel), cri_grpc.ImageServiceStub(channel))


async def eventually(probe: Callable[[], Awaitable[T | None]], timeout: float = 60) -> T:
    """The first truthy answer of `probe`, polled until `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.HTTPError, grpc.aio.AioRpcError):
            answer = await probe()
            if answer:
                return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"{probe.__name__} did not hold within {timeout} s")
        await asyncio.sleep(0.3)


async def web_pods(c: Cri) -> list[cri.PodSandbox]:
    selector = {"io.kubernetes.pod.name": "web"}
    request = cri.ListPodSandboxRequest(filter=cri.PodSandboxFilter(label_selector=selector))
    return list((await c.runtime.ListPodSandbox(request)).items)


async def containers_named(c: Cri, name: str) -> list[cri.Container]:
    selector = {"io.kubernetes.container.name": name}
    request = cri.ListContainersRequest(filter=cri.ContainerFilter(label_selector=selector))
    found = (await c.runtime.ListContainers(request)).containers
    return sorted(found, key=lambda x: x.metadata.attempt)


async def page_of(c: Cri, expected: str) -> tuple[str, str] | None:
    """(sandbox ID, pod IP) once a READY web pod serves `expected`."""
    ready = [p for p in await web_pods(c) if p.state == cri.SANDBOX_READY]
    if len(ready) != 1:
        return None
    status = await c.runtime.PodSandboxStatus(
        cri.PodSandboxStatusRequest(pod_sandbox_id=ready[0].id)
    )
    ip = status.status.network.ip
    async with httpx.AsyncClient(timeout=2) as http:
        answer = await http.get(f"http://{ip}:8080/index.html")
    return (ready[0].id, ip) if answer.text.strip() == expected else None


def crash_log_text(path: Path) -> Callable[[], Awaitable[str | None]]:
    async def crash_log() -> str | None:  # the memory emptyDir is a tmpfs: it says so
        return path.read_text() if path.exists() and "crashing" in path.read_text() else None

    return crash_log


async def test_static_pod_lifecycle(static_stack: Stack) -> None:
    stack = static_stack
    manifest = stack.root / "manifests" / "web.yaml"
    manifest.write_text(MANIFEST.format(page="made by the init container"))
    stack.start_hexcri()
    async with connect(stack) as c:

        async def first_page() -> tuple[str, str] | None:
            return await page_of(c, "made by the init container")

        sandbox_id, ip = await eventually(first_page)
        (pod,) = await web_pods(c)
        assert pod.labels["app"] == "web"
        assert pod.labels["io.kubernetes.pod.namespace"] == "default"
        uid = pod.labels["io.kubernetes.pod.uid"]
        (init,) = await containers_named(c, "page")
        assert init.state == cri.CONTAINER_EXITED
        crash_log = stack.root / "pod-logs" / f"default_web_{uid}" / "crash" / "0.log"
        assert "crashing" in (await eventually(crash_log_text(crash_log)))

        # restart back-off: the first restart is at once, the second waits 10 s
        async def two_restarts() -> list[cri.Container] | None:
            found = await containers_named(c, "crash")
            return found if found and found[-1].metadata.attempt >= 2 else None

        crashes = await eventually(two_restarts, timeout=60)
        statuses = [
            (await c.runtime.ContainerStatus(cri.ContainerStatusRequest(container_id=x.id))).status
            for x in crashes[-2:]
        ]
        first, second = statuses
        assert first.exit_code == 3 and first.reason == "Error"
        assert second.metadata.attempt == first.metadata.attempt + 1
        assert second.annotations["io.kubernetes.container.restartCount"] == str(
            second.metadata.attempt
        )
        if first.metadata.attempt >= 1:  # restarted once already: it waited its back-off
            assert second.created_at - first.finished_at >= 9.5e9

    # kill -9: the new process adopts the pod, no duplicate
    stack.stop_hexcri(signal.SIGKILL)
    stack.start_hexcri()
    async with connect(stack) as c:
        await asyncio.sleep(3)  # a few reconciler passes
        pods = await web_pods(c)
        assert [p.id for p in pods] == [sandbox_id]
        assert len(await containers_named(c, "serve")) == 1
        assert len(await containers_named(c, "page")) == 1

        # a changed file (here its ConfigMap) replaces the pod (same uid, a new sandbox)
        manifest.write_text(MANIFEST.format(page="second edition"))

        async def second_page() -> tuple[str, str] | None:
            return await page_of(c, "second edition")

        new_id, _ = await eventually(second_page)
        assert new_id != sandbox_id
        (pod,) = await web_pods(c)
        assert pod.labels["io.kubernetes.pod.uid"] == uid

        # a removed file removes the pod and everything it held
        manifest.unlink()

        async def gone() -> bool:
            return not await web_pods(c) and not await containers_named(c, "serve")

        await eventually(gone)
    assert_nothing_left(stack)
    assert list((stack.root / "pod-logs").iterdir()) == []
    assert ip  # the first pod had an address on the pod network


def test_play_up_logs_down(static_stack: Stack, tmp_path: Path) -> None:
    """`hexcri play` with no daemon: the example pod answers on its pod IP, its logs show,
    a second play finds it (no duplicate), `--down` leaves nothing behind."""
    import os
    import re
    import subprocess
    import sys

    stack = static_stack
    env = {
        **os.environ,
        "HEXCRI_CONFIG": str(stack.config_path),
        "HEXCRI_MANIFEST_LOG_DIR": str(stack.root / "pod-logs"),
    }
    example = str(Path(__file__).parents[2] / "examples" / "web-pod.yaml")
    play = [sys.executable, "-m", "app.cli", "play"]

    def run(*args: str) -> str:
        done = subprocess.run([*play, *args, example], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    up = run()
    found = re.search(r"pod default/web Running IP (\S+)", up)
    assert found, up
    page = httpx.get(f"http://{found.group(1)}:8080/", timeout=10)
    assert page.text == "hello from hexcri from pod web\n"
    again = run()
    assert "sandbox" not in again and "started" not in again  # found, not made twice
    assert found.group(0) in again
    logs = run("--logs")
    assert "[page] wrote the page" in logs
    assert "[httpd]" in logs and "response:200" in logs
    follow = subprocess.Popen(
        [*play, "--follow", example], env=env, stdout=subprocess.PIPE, text=True
    )
    assert follow.stdout is not None
    seen: list[str] = []
    try:
        while "response:200" not in "".join(seen):  # it finds the pod, then streams its logs
            seen.append(follow.stdout.readline())
        httpx.get(f"http://{found.group(1)}:8080/", timeout=10)
        while "".join(seen).count("response:200") < 2:  # the new request, as it happens
            seen.append(follow.stdout.readline())
    finally:
        follow.send_signal(signal.SIGINT)
        rest, _ = follow.communicate(timeout=30)
    assert follow.returncode == 0, "".join(seen) + rest
    assert "[page] wrote the page" in "".join(seen)
    run("--down")
    assert_nothing_left(stack)
    assert list((stack.root / "pod-logs").iterdir()) == []
