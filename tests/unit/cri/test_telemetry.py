"""The CRI edge's telemetry: metrics per RPC and code, the RPC's fields on log lines, bodies."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import grpc
import pytest
from cri_api.v1 import api_pb2 as cri
from prometheus_client import REGISTRY

from adapters.cri.telemetry import BODY_LIMIT, body
from app.logs import JsonFormatter, RpcFields
from tests.unit.cri.conftest import Client, code_of
from tests.unit.cri.test_servicer import create, run_pod


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Lines(logging.Handler):
    """Every record as the JSON formatter writes it, with the RPC fields filter."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.addFilter(RpcFields())
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def lines() -> Iterator[Lines]:
    handler = Lines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


async def test_each_call_is_timed_and_counted_by_code(client: Client) -> None:
    ok = sample("hexcri_cri_requests_total", rpc="RunPodSandbox", code="OK")
    timed = sample("hexcri_cri_request_duration_seconds_count", rpc="RunPodSandbox")
    missing = sample("hexcri_cri_requests_total", rpc="ContainerStatus", code="NOT_FOUND")
    await run_pod(client)
    req = cri.ContainerStatusRequest(container_id="nothing-like-this")
    assert await code_of(client.runtime.ContainerStatus(req)) == grpc.StatusCode.NOT_FOUND
    assert sample("hexcri_cri_requests_total", rpc="RunPodSandbox", code="OK") == ok + 1
    assert sample("hexcri_cri_request_duration_seconds_count", rpc="RunPodSandbox") == timed + 1
    assert sample("hexcri_cri_request_duration_seconds_sum", rpc="RunPodSandbox") > 0
    assert (
        sample("hexcri_cri_requests_total", rpc="ContainerStatus", code="NOT_FOUND") == missing + 1
    )
    assert sample("hexcri_cri_requests_in_flight", rpc="RunPodSandbox") == 0


async def test_log_lines_of_a_call_carry_its_rpc_ids_and_duration(
    client: Client, lines: Lines
) -> None:
    sid = await run_pod(client)
    cid = await create(client, sid, "app", ["sleep", "10"])
    req = cri.StopContainerRequest(container_id=cid, timeout=1)
    await client.runtime.StopContainer(req)
    stop = [line for line in lines.lines if line.get("rpc") == "StopContainer"]
    assert stop and all(line["container"] == cid for line in stop)
    assert all(isinstance(line["duration"], float) for line in stop)
    # the response's IDs join the call's fields: the last line of RunPodSandbox names the pod
    run = [line for line in lines.lines if line.get("rpc") == "RunPodSandbox"]
    assert run[-1]["pod"] == sid and run[-1]["msg"] == "RunPodSandbox done"
    created = [line for line in lines.lines if line.get("rpc") == "CreateContainer"]
    assert created[0]["pod"] == sid and created[-1]["container"] == cid


async def test_a_failed_call_logs_its_code_with_its_ids(client: Client, lines: Lines) -> None:
    req = cri.RemovePodSandboxRequest(pod_sandbox_id="")
    assert await code_of(client.runtime.RemovePodSandbox(req)) == grpc.StatusCode.INVALID_ARGUMENT
    failed = [
        line for line in lines.lines if line["msg"] == "RemovePodSandbox failed: INVALID_ARGUMENT"
    ]
    assert failed and failed[0]["level"] == "INFO"


async def test_request_bodies_only_at_debug(client: Client, lines: Lines) -> None:
    logging.getLogger().setLevel(logging.INFO)
    await client.runtime.Version(cri.VersionRequest(version="v1"))
    assert not [line for line in lines.lines if "request:" in str(line["msg"])]
    logging.getLogger().setLevel(logging.DEBUG)
    await client.runtime.Version(cri.VersionRequest(version="v1"))
    assert [line for line in lines.lines if line["msg"] == 'Version request: version: "v1"']


async def test_a_huge_field_is_cut_in_the_log(client: Client, lines: Lines) -> None:
    config = cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name="p", uid="u", namespace="n"),
        annotations={"big": "x" * (1 << 20)},
    )
    await client.runtime.RunPodSandbox(cri.RunPodSandboxRequest(config=config))
    logged = [str(line["msg"]) for line in lines.lines if line.get("rpc") == "RunPodSandbox"]
    assert logged and max(len(text) for text in logged) < BODY_LIMIT + 100


def test_body_leaves_out_registry_credentials() -> None:
    auth = cri.AuthConfig(
        username="alice",
        password="s3cret-pass",
        auth="YWxpY2U6czNjcmV0LXBhc3M=",
        identity_token="id-token-xyz",
        registry_token="reg-token-xyz",
    )
    req = cri.PullImageRequest(image=cri.ImageSpec(image="busybox"), auth=auth)
    text = body(req)
    assert 'image: "busybox"' in text
    for secret in ("s3cret-pass", "YWxpY2U6", "id-token-xyz", "reg-token-xyz", "alice"):
        assert secret not in text
    assert req.auth.password == "s3cret-pass"  # the request itself is untouched


def test_body_is_cut_and_says_how_long_it_was() -> None:
    req = cri.ContainerStatusRequest(container_id="c" * 5000)
    text = body(req)
    assert len(text) < BODY_LIMIT + 40
    assert text.endswith("... (5016 chars)")  # container_id: "<5000 c>"
