"""Operating hexcri on the real stack: /metrics after a pod's life, no secret in the log after
pulls with credentials, `hexcri check` against a ready containerd and one whose CRI plugin runs.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
from cri_api.v1 import api_pb2 as cri
from cri_api.v1 import api_pb2_grpc as cri_grpc

from tests.e2e.conftest import Cri
from tests.e2e.test_containerd_socket import container_config, pod_config, wait_state
from tests.support import oci
from tests.support.daemon import start_daemon, stop_daemon
from tests.support.registry import IDENTITY_TOKEN, PASSWORD, USERNAME, Front, Registry
from tests.support.stack import BUSYBOX, Stack, containerd_cri_beside, running_stack

pytestmark = [pytest.mark.containerd, pytest.mark.registry, pytest.mark.cni]
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def observed() -> Iterator[tuple[Stack, str]]:
    """The stack with hexcri logging at debug level and serving /metrics; its address."""
    address = f"127.0.0.1:{free_port()}"
    with running_stack(start_hexcri=False) as s:
        s.env.update(HEXCRI_METRICS_ADDRESS=address, HEXCRI_LOG_LEVEL="DEBUG")
        s.start_hexcri()
        try:
            yield s, address
        finally:
            print(f"--- hexcri log ---\n{s.hexcri_log.read_text()[-6000:]}")


@pytest.fixture
async def real(observed: tuple[Stack, str]) -> AsyncIterator[Cri]:
    async with grpc.aio.insecure_channel(f"unix://{observed[0].socket}") as channel:
        yield Cri(cri_grpc.RuntimeServiceStub(channel), cri_grpc.ImageServiceStub(channel))


def scrape(address: str) -> dict[str, float]:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


async def test_metrics_after_a_pod_lifecycle(
    real: Cri, observed: tuple[Stack, str], tmp_path: Path
) -> None:
    stack, address = observed
    rt = real.runtime
    await real.images.PullImage(cri.PullImageRequest(image=cri.ImageSpec(image=BUSYBOX)))
    config = pod_config("metrics", tmp_path)
    sid = (await rt.RunPodSandbox(cri.RunPodSandboxRequest(config=config))).pod_sandbox_id
    request = cri.CreateContainerRequest(
        pod_sandbox_id=sid, config=container_config("app", ["sleep", "3600"]), sandbox_config=config
    )
    cid = (await rt.CreateContainer(request)).container_id
    await rt.StartContainer(cri.StartContainerRequest(container_id=cid))
    await wait_state(real, cid, cri.CONTAINER_RUNNING)
    req = cri.ContainerStatusRequest(container_id="no-such-container")
    with pytest.raises(grpc.aio.AioRpcError):
        await rt.ContainerStatus(req)
    running = await asyncio.to_thread(scrape, address)

    await rt.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=sid))
    await rt.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sid))
    after = await asyncio.to_thread(scrape, address)

    assert running['hexcri_pod_sandboxes{state="SANDBOX_READY"}'] == 1
    assert running['hexcri_containers{state="CONTAINER_RUNNING"}'] == 1
    assert after['hexcri_pod_sandboxes{state="SANDBOX_READY"}'] == 0
    assert after['hexcri_containers{state="CONTAINER_RUNNING"}'] == 0
    for rpc in ("RunPodSandbox", "CreateContainer", "StartContainer", "PullImage"):
        assert after[f'hexcri_cri_requests_total{{code="OK",rpc="{rpc}"}}'] == 1
        assert after[f'hexcri_cri_request_duration_seconds_count{{rpc="{rpc}"}}'] == 1
        assert 0 < after[f'hexcri_cri_request_duration_seconds_sum{{rpc="{rpc}"}}'] < 120
    assert after['hexcri_cri_requests_total{code="NOT_FOUND",rpc="ContainerStatus"}'] == 1
    assert after['hexcri_cri_requests_in_flight{rpc="RunPodSandbox"}'] == 0
    # busybox and the pause image, both fetched from the registry
    assert after['hexcri_image_pulls_total{result="success"}'] == 2
    assert after["hexcri_image_pull_duration_seconds_count"] == 2
    assert after["hexcri_image_pulls_in_flight"] == 0
    layers = sum(layer["size"] for layer in oci.busybox_image().manifest["layers"])
    assert after["hexcri_image_pull_bytes_total"] > layers
    assert after['hexcri_cni_operation_duration_seconds_count{operation="ADD"}'] == 1
    assert after['hexcri_cni_operation_duration_seconds_count{operation="DEL"}'] >= 1
    assert after.get('hexcri_cni_operation_failures_total{operation="ADD"}', 0) == 0
    # the sandbox's and the app's containerd container; a fresh pull's layers are not there yet
    created = 'hexcri_containerd_request_duration_seconds_count{method="Containers/Create"}'
    assert after[created] == 2
    not_found = 'hexcri_containerd_request_errors_total{code="NOT_FOUND",method="Snapshots/Stat"}'
    assert after[not_found] >= 1
    assert 1e6 < after["process_resident_memory_bytes"] < 4e9
    assert stack.hexcri is not None and stack.hexcri.poll() is None


async def test_no_credential_or_token_in_the_log_after_pulls_with_them(
    real: Cri,
    observed: tuple[Stack, str],
    registry: Registry,
    auth_registry: Registry,
    token_registry: Front,
) -> None:
    stack, _ = observed
    auth_registry.push(oci.busybox_image(), "ops/private", "v1")
    registry.push(oci.busybox_image(), "library/busybox", "latest")  # behind the token front
    token_registry_image = token_registry.ref("library/busybox", "latest")
    pulls = [
        (
            auth_registry.ref("ops/private", "v1"),
            cri.AuthConfig(username=USERNAME, password=PASSWORD),
        ),
        (
            auth_registry.ref("ops/private", "v1"),
            cri.AuthConfig(auth=base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()),
        ),
        (token_registry_image, cri.AuthConfig(username=USERNAME, password=PASSWORD)),
        (token_registry_image, cri.AuthConfig(identity_token=IDENTITY_TOKEN)),
    ]
    for image, auth in pulls:
        req = cri.PullImageRequest(image=cri.ImageSpec(image=image), auth=auth)
        assert (await real.images.PullImage(req)).image_ref.startswith("sha256:")
    with pytest.raises(grpc.aio.AioRpcError):  # a refused password is not logged either
        bad = cri.AuthConfig(username=USERNAME, password="wr0ng-" + PASSWORD)
        await real.images.PullImage(
            cri.PullImageRequest(image=cri.ImageSpec(image=auth_registry.ref("ops/none")), auth=bad)
        )
    log = stack.hexcri_log.read_text()
    assert "PullImage request:" in log and "PullImage done" in log  # debug lines were written
    assert token_registry.tokens, "the token front issued no token"
    secrets = [
        PASSWORD,
        base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode(),
        base64.b64encode(f"{USERNAME}:wr0ng-{PASSWORD}".encode()).decode(),
        IDENTITY_TOKEN,
        *token_registry.tokens,
    ]
    for secret in secrets:
        assert secret not in log
    assert "Authorization" not in log and "authorization" not in log


def check(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "check", "--config", str(config)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={k: v for k, v in os.environ.items() if not k.startswith("HEXCRI_")},
        timeout=120,
    )


def test_hexcri_check_on_the_test_node(tmp_path: Path) -> None:
    with running_stack(start_hexcri=False) as stack:
        ready = check(stack.config_path)
        assert ready.returncode == 0, ready.stdout + ready.stderr
        lines = ready.stdout.splitlines()
        assert lines[0].startswith("ok    containerd: containerd ")
        assert "ok    containerd CRI plugin: io.containerd.grpc.v1.cri disabled" in lines
        assert any(
            line.startswith("ok    sandbox image: registry.k8s.io/pause:3.9") for line in lines
        )
        assert lines[-1].startswith("all ") and lines[-1].endswith(" ok")

        with containerd_cri_beside(stack) as theirs:
            config = tmp_path / "config.toml"
            text = stack.config_path.read_text()
            config.write_text(text.replace(stack.containerd.address, theirs.containerd.address))
            assert theirs.containerd.address in config.read_text()
            on = check(config)
        assert on.returncode == 1, on.stdout + on.stderr
        failed = [line for line in on.stdout.splitlines() if line.startswith("FAIL")]
        assert len(failed) == 1, on.stdout + on.stderr
        assert failed[0].startswith(
            "FAIL  containerd CRI plugin: io.containerd.grpc.v1.cri is running"
        )
        assert 'fix: add disabled_plugins = ["io.containerd.grpc.v1.cri"]' in failed[0]
        assert on.stdout.splitlines()[-1].endswith("1 failed")

        # containerd gone: the first line says so, with its fix
        stack.containerd.stop()
        down = check(stack.config_path)
        assert down.returncode == 1
        first = down.stdout.splitlines()[0]
        assert first.startswith("FAIL  containerd: ") and "fix: start containerd" in first


_CONTAINERD = """\
version = 2
root = "{root}/root"
state = "{root}/state"
{imports}
[grpc]
  address = "{root}/containerd.sock"
[ttrpc]
  address = "{root}/containerd.sock.ttrpc"
[debug]
  address = "{root}/debug.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "{root}/opt"
"""


@pytest.mark.parametrize("snippet", [False, True])
def test_the_installed_containerd_snippet_turns_its_cri_plugin_off(
    snippet: bool, tmp_path: Path
) -> None:
    """containerd's default config runs its CRI plugin (check fails on that line); importing
    deploy/containerd-config.toml turns it off (check passes it)."""
    root = Path(tempfile.mkdtemp(prefix="hexcri-snip-"))  # short: unix socket paths
    imports = f'imports = ["{REPO / "deploy" / "containerd-config.toml"}"]' if snippet else ""
    (root / "config.toml").write_text(_CONTAINERD.format(root=root, imports=imports))
    address = root / "containerd.sock"
    process = start_daemon(
        ["/usr/bin/containerd", "--config", str(root / "config.toml")],
        root / "containerd.log",
        address.exists,
        "containerd",
    )
    try:
        config = tmp_path / "config.toml"
        config.write_text(f'[containerd]\naddress = "{address}"\n')
        lines = check(config).stdout.splitlines()
    finally:
        stop_daemon(process)
        subprocess.run(["umount", "-R", str(root)], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
    (cri_line,) = [line for line in lines if "containerd CRI plugin" in line]
    if snippet:
        assert cri_line == "ok    containerd CRI plugin: io.containerd.grpc.v1.cri disabled"
    else:
        assert cri_line.startswith("FAIL  containerd CRI plugin:"), lines
