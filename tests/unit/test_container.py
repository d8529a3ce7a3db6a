"""The composition root: each backend's container wires every port, the servers are resources
of the application container, `close_resources` closes what was opened, and each backend
imports only its own adapters."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from cri_api.v1 import api_pb2 as cri
from cri_api.v1 import api_pb2_grpc as cri_grpc
from prometheus_client import REGISTRY

from app.container import Application, close_resources, open_resources
from app.settings import CONFIG_ENV, Settings
from app.version import VERSION
from domain.services.context import Ports

REPO = Path(__file__).resolve().parents[2]
CONTAINERD_ONLY = ["adapters.containerd", "adapters.cni", "adapters.netns", "adapters.registry",
                   "adapters.store"]  # fmt: skip


@pytest.fixture(autouse=True)
def no_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "absent.toml"))
    yield


def settings(tmp_path: Path, backend: str, **extra: object) -> Settings:
    """Settings whose every path is under `tmp_path` (containerd is not there: unused)."""
    return Settings(
        backend=backend,  # type: ignore[arg-type]
        socket=str(tmp_path / "run" / "cri.sock"),
        root_dir=str(tmp_path / "root"),
        state_dir=str(tmp_path / "state"),
        containerd={"address": str(tmp_path / "no-containerd.sock")},  # type: ignore[arg-type]
        cni={"netns_dir": str(tmp_path / "netns"), "cache_dir": str(tmp_path / "cni")},  # type: ignore[arg-type]
        **extra,  # type: ignore[arg-type]
    )


async def test_the_memory_application_serves_and_closes(tmp_path: Path) -> None:
    app = Application(settings=settings(tmp_path, "memory", metrics_address="127.0.0.1:0"))
    await open_resources(app.backend())
    uses = await app.use_cases.async_()
    exporter = await app.metrics.async_()
    server = await app.cri.async_()
    streaming = await app.streaming.async_()
    assert (await app.use_cases.async_()) is uses and (await app.cri.async_()) is server
    assert app.domain_settings().runtime_version == VERSION
    async with grpc.aio.insecure_channel(f"unix://{tmp_path / 'run' / 'cri.sock'}") as channel:
        stub = cri_grpc.RuntimeServiceStub(channel)  # type: ignore[no-untyped-call]
        version = await stub.Version(cri.VersionRequest())
        config = (await stub.Status(cri.StatusRequest(verbose=True))).info["config"]
    assert (version.runtime_name, version.runtime_version) == ("hexcri", VERSION)
    assert streaming.base_url.rpartition(":")[2] in config  # the port actually bound
    assert exporter is not None and exporter.collector in REGISTRY._collector_to_names

    await close_resources(app)
    assert not (tmp_path / "run" / "cri.sock").exists()
    assert exporter.collector not in REGISTRY._collector_to_names
    assert not app.cri.initialized and not app.use_cases.initialized
    await close_resources(app.backend())


def test_each_server_closes_before_what_it_uses(tmp_path: Path) -> None:
    """`shutdown_resources` orders by the resources a resource takes directly: the CRI
    server stops (calls in flight finish) before the streaming server, and both, with the
    metrics endpoint, before the use cases wait for the clean-ups left."""
    app = Application(settings=settings(tmp_path, "memory"))

    def takes(resource: object, used: object) -> bool:
        return any(p is used for p in resource.related)  # type: ignore[attr-defined]

    assert takes(app.cri, app.streaming) and takes(app.cri, app.use_cases)
    assert takes(app.streaming, app.use_cases) and takes(app.metrics, app.use_cases)


async def test_no_metrics_endpoint_unless_an_address_is_set(tmp_path: Path) -> None:
    app = Application(settings=settings(tmp_path, "memory"))
    assert await app.metrics.async_() is None
    await close_resources(app)


async def test_the_containerd_backend_wires_every_port_and_closes_what_it_opened(
    tmp_path: Path,
) -> None:
    """Built without reaching containerd: the client's channel opens on first use."""
    app = Application(settings=settings(tmp_path, "containerd"))
    backend = app.backend()
    await app.use_cases.async_()
    ports: Ports = await app.ports.async_()
    names = {type(getattr(ports, field)).__name__ for field in Ports.__dataclass_fields__}
    assert {"ContainerdRuntime", "ContainerStdio", "CniNetwork", "SqliteStateStore"} <= names
    assert ports.images is await backend.images() and ports.state is await backend.state()
    assert (tmp_path / "root" / "hexcri.db").exists()
    resources = [backend.client, backend.registry, backend.io, backend.state]
    assert all(resource.initialized for resource in resources)
    assert not backend.image_filesystem.initialized  # a check `serve` starts, not `play`

    await close_resources(app)
    assert backend.state.initialized  # the backend closes after the application
    await close_resources(backend)
    assert not any(resource.initialized for resource in resources)


@pytest.mark.parametrize(
    ("backend", "absent"),
    [
        ("memory", [*CONTAINERD_ONLY, "pyroute2"]),
        ("containerd", ["adapters.memory", "pyroute2"]),
    ],
)
def test_a_backend_imports_only_its_own_adapters(
    tmp_path: Path, backend: str, absent: list[str]
) -> None:
    """The resident memory of the process is mostly the code it imported."""
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from app.container import Application, close_resources
        from tests.unit.test_container import settings
        from pathlib import Path

        async def main():
            app = Application(settings=settings(Path({str(tmp_path)!r}), {backend!r}))
            await app.use_cases.async_()
            await app.cri.async_()
            await close_resources(app)
            await close_resources(app.backend())

        asyncio.run(main())
        print(" ".join(sorted(sys.modules)))
        """
    )
    env = {**os.environ, CONFIG_ENV: str(tmp_path / "absent.toml")}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    loaded = done.stdout.split()
    assert "adapters.cri.server" in loaded
    for prefix in absent:
        assert not [m for m in loaded if m == prefix or m.startswith(prefix + ".")], prefix
