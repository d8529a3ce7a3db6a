"""The registry adapter against the local registries: resolve, fetch, auth, bad input."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from adapters.registry import HostsConfig, RegistryClient
from domain.errors import DeadlineExceeded, NotFound
from domain.model import AuthConfig
from domain.reference import parse
from ports.registry import BlobCorrupted, Descriptor, RegistryAuthError
from tests.support import oci
from tests.support.registry import (
    IDENTITY_TOKEN,
    PASSWORD,
    USERNAME,
    Front,
    Registry,
    free_port,
)

pytestmark = pytest.mark.registry

CREDS = AuthConfig(username=USERNAME, password=PASSWORD)


@pytest.fixture
async def client() -> AsyncIterator[RegistryClient]:
    c = RegistryClient(retries=2, backoff=0.01)
    try:
        yield c
    finally:
        await c.close()


async def read(stream: AsyncIterator[bytes]) -> bytes:
    out = bytearray()
    async for chunk in stream:
        out += chunk
    return bytes(out)


def layer_descriptor(image: oci.OciImage, n: int = 0) -> Descriptor:
    raw = image.manifest["layers"][n]
    return Descriptor(media_type=raw["mediaType"], digest=raw["digest"], size=raw["size"])


@pytest.fixture(scope="module")
def busybox(registry: Registry) -> oci.OciImage:
    image = oci.busybox_image(extra_files={"marker": b"client-tests"})
    registry.push(image, "client/busybox", "v1")
    return image


# --- resolve ----------------------------------------------------------------------------


async def test_resolve_by_tag(client: RegistryClient, registry: Registry, busybox: oci.OciImage):
    resolved = await client.resolve(parse(registry.ref("client/busybox", "v1")), None)
    assert resolved.digest == busybox.digest
    assert resolved.index is None
    assert resolved.manifest.digest == busybox.digest
    assert resolved.manifest.media_type == oci.OCI_MANIFEST
    assert resolved.config.digest == busybox.config_digest
    assert [layer.digest for layer in resolved.layers] == [
        layer["digest"] for layer in busybox.manifest["layers"]
    ]
    assert resolved.documents == {busybox.digest: busybox.manifest_bytes}
    assert resolved.name == f"{registry.host}/client/busybox"


async def test_resolve_by_digest(client: RegistryClient, registry: Registry, busybox):
    ref = parse(registry.ref("client/busybox", digest=busybox.digest))
    resolved = await client.resolve(ref, None)
    assert resolved.digest == busybox.digest
    assert resolved.config.digest == busybox.config_digest


async def test_index_resolves_to_linux_amd64(client: RegistryClient, registry: Registry):
    index = oci.multiplatform_busybox()
    registry.push(index, "client/multi", "v1")
    resolved = await client.resolve(parse(registry.ref("client/multi", "v1")), None)
    amd64 = index.child("linux", "amd64")
    assert resolved.digest == index.digest
    assert resolved.index is not None and resolved.index.media_type == oci.OCI_INDEX
    assert resolved.manifest.digest == amd64.digest
    assert resolved.config.digest == amd64.config_digest
    assert set(resolved.documents) == {index.digest, amd64.digest}
    # and the platform marker in its last layer says so
    blob = await read(client.fetch(parse(registry.ref("client/multi")), resolved.layers[-1], None))
    assert blob == amd64.blobs[resolved.layers[-1].digest]


async def test_other_platform_is_chosen_when_asked(registry: Registry):
    index = oci.multiplatform_busybox()
    registry.push(index, "client/multi", "v1")
    arm = RegistryClient(platform="linux/arm/v7")
    try:
        resolved = await arm.resolve(parse(registry.ref("client/multi", "v1")), None)
        assert resolved.manifest.digest == index.child("linux", "arm", "v7").digest
    finally:
        await arm.close()


async def test_index_without_the_platform_is_not_found(client: RegistryClient, registry):
    arm_only = oci.build_index([oci.busybox_image(architecture="arm64")])
    registry.push(arm_only, "client/armonly", "v1")
    with pytest.raises(NotFound, match="linux/amd64"):
        await client.resolve(parse(registry.ref("client/armonly", "v1")), None)


async def test_docker_schema2_manifest_and_list(client: RegistryClient, registry: Registry):
    image = oci.busybox_image(docker=True, extra_files={"docker": b"yes"})
    arm = oci.busybox_image(docker=True, architecture="arm64")
    registry.push(oci.build_index([arm, image], docker=True), "client/docker", "list")
    registry.push(image, "client/docker", "single")
    single = await client.resolve(parse(registry.ref("client/docker", "single")), None)
    assert single.manifest.media_type == oci.DOCKER_MANIFEST
    assert single.config.digest == image.config_digest
    listed = await client.resolve(parse(registry.ref("client/docker", "list")), None)
    assert listed.index is not None and listed.index.media_type == oci.DOCKER_LIST
    assert listed.config.digest == image.config_digest


async def test_missing_tag_and_repository_are_not_found(client: RegistryClient, registry, busybox):
    ref = registry.ref("client/busybox", "nope")
    with pytest.raises(NotFound, match=ref.replace(".", r"\.")):
        await client.resolve(parse(ref), None)
    with pytest.raises(NotFound, match="client/nothing"):
        await client.resolve(parse(registry.ref("client/nothing", "v1")), None)


# --- fetch --------------------------------------------------------------------------------


async def test_fetch_streams_the_verified_blob(client: RegistryClient, registry, busybox):
    ref = parse(registry.ref("client/busybox", "v1"))
    desc = layer_descriptor(busybox)
    chunks = [c async for c in client.fetch(ref, desc, None)]
    assert b"".join(chunks) == busybox.blobs[desc.digest]
    assert len(chunks) > 1  # streamed, not one buffer


async def test_fetch_missing_blob_is_not_found(client: RegistryClient, registry, busybox):
    ref = parse(registry.ref("client/busybox", "v1"))
    desc = Descriptor(media_type=oci.OCI_LAYER_GZIP, digest=oci.sha256(b"absent"), size=6)
    with pytest.raises(NotFound, match=r"absent|sha256"):
        await read(client.fetch(ref, desc, None))


async def test_corrupted_blob_is_rejected(client, registry_front: Callable[..., Front], busybox):
    desc = layer_descriptor(busybox)
    front = registry_front(tamper={desc.digest})
    ref = parse(front.ref("client/busybox", "v1"))
    resolved = await client.resolve(ref, None)  # manifests pass untouched
    assert resolved.layers[0] == desc
    with pytest.raises(BlobCorrupted, match=desc.digest):
        await read(client.fetch(ref, desc, None))


async def test_wrong_size_is_rejected(client: RegistryClient, registry, busybox):
    ref = parse(registry.ref("client/busybox", "v1"))
    desc = layer_descriptor(busybox)
    with pytest.raises(BlobCorrupted):
        await read(client.fetch(ref, desc.model_copy(update={"size": desc.size - 1}), None))
    with pytest.raises(BlobCorrupted):
        await read(client.fetch(ref, desc.model_copy(update={"size": desc.size + 1}), None))


async def test_transient_failures_are_retried(client, registry_front, busybox):
    front = registry_front(fail_first=2)
    resolved = await client.resolve(parse(front.ref("client/busybox", "v1")), None)
    assert resolved.digest == busybox.digest
    assert sum(1 for m, *_ in front.requests if m == "GET") == 3


async def test_redirected_blobs_are_followed(client, registry_front, busybox):
    front = registry_front(redirect_blobs=True)
    desc = layer_descriptor(busybox)
    blob = await read(client.fetch(parse(front.ref("client/busybox", "v1")), desc, None))
    assert blob == busybox.blobs[desc.digest]


async def test_hanging_registry_times_out(registry_front, busybox):
    front = registry_front(hang={"/manifests/"})
    impatient = RegistryClient(request_timeout=0.5, retries=0)
    try:
        with pytest.raises(DeadlineExceeded, match=front.host):
            await impatient.resolve(parse(front.ref("client/busybox", "v1")), None)
    finally:
        await impatient.close()


async def test_stalled_blob_times_out(registry_front, busybox):
    desc = layer_descriptor(busybox)
    front = registry_front(stall={desc.digest})
    impatient = RegistryClient(progress_timeout=0.5, retries=0)
    try:
        with pytest.raises(DeadlineExceeded, match="no progress"):
            await read(impatient.fetch(parse(front.ref("client/busybox", "v1")), desc, None))
    finally:
        await impatient.close()


# --- auth ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def private(auth_registry: Registry) -> oci.OciImage:
    image = oci.busybox_image(extra_files={"marker": b"private"})
    auth_registry.push(image, "client/private", "v1")
    return image


async def test_basic_auth(client: RegistryClient, auth_registry: Registry, private):
    ref = parse(auth_registry.ref("client/private", "v1"))
    resolved = await client.resolve(ref, CREDS)
    assert resolved.digest == private.digest
    blob = await read(client.fetch(ref, resolved.layers[-1], CREDS))
    assert blob == private.blobs[resolved.layers[-1].digest]


async def test_basic_auth_with_the_auth_field(auth_registry: Registry, private):
    encoded = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    c = RegistryClient()
    try:
        resolved = await c.resolve(
            parse(auth_registry.ref("client/private", "v1")), AuthConfig(auth=encoded)
        )
        assert resolved.digest == private.digest
    finally:
        await c.close()


async def test_basic_auth_refuses_wrong_or_missing_credentials(auth_registry: Registry, private):
    ref = parse(auth_registry.ref("client/private", "v1"))
    for auth in (None, AuthConfig(username=USERNAME, password="wrong-password-xyz")):
        c = RegistryClient(retries=0)
        try:
            with pytest.raises(RegistryAuthError) as caught:
                await c.resolve(ref, auth)
            assert "wrong-password-xyz" not in str(caught.value)
        finally:
            await c.close()


async def test_one_pulls_credentials_do_not_authorise_another(auth_registry, private):
    """The same client, first with good credentials, then wrong ones or none: refused."""
    ref = parse(auth_registry.ref("client/private", "v1"))
    c = RegistryClient(retries=0)
    try:
        assert (await c.resolve(ref, CREDS)).digest == private.digest
        for auth in (None, AuthConfig(username=USERNAME, password="not-the-password")):
            with pytest.raises(RegistryAuthError):
                await c.resolve(ref, auth)
        assert (await c.resolve(ref, CREDS)).digest == private.digest
    finally:
        await c.close()


async def test_credentials_are_not_logged(auth_registry, private, caplog):
    caplog.set_level("DEBUG")
    c = RegistryClient(retries=0)
    try:
        await c.resolve(parse(auth_registry.ref("client/private", "v1")), CREDS)
        with pytest.raises(RegistryAuthError):
            await RegistryClient(retries=0).resolve(
                parse(auth_registry.ref("client/private", "v1")),
                AuthConfig(username=USERNAME, password="leaky-secret"),
            )
    finally:
        await c.close()
    assert PASSWORD not in caplog.text and "leaky-secret" not in caplog.text


async def test_credentials_for_another_server_are_not_sent(auth_registry, private):
    ref = parse(auth_registry.ref("client/private", "v1"))
    elsewhere = CREDS.model_copy(update={"server_address": "registry.example.com"})
    c = RegistryClient(retries=0)
    try:
        with pytest.raises(RegistryAuthError):
            await c.resolve(ref, elsewhere)
        mine = CREDS.model_copy(update={"server_address": f"http://{auth_registry.host}"})
        assert (await c.resolve(ref, mine)).digest == private.digest
    finally:
        await c.close()


async def test_token_auth(client: RegistryClient, registry: Registry, token_registry: Front):
    image = oci.busybox_image(extra_files={"marker": b"tokened"})
    registry.push(image, "client/tokened", "v1")
    ref = parse(token_registry.ref("client/tokened", "v1"))
    before = len(token_registry.requests)  # the front is the session's: others use it too
    resolved = await client.resolve(ref, CREDS)
    assert resolved.digest == image.digest
    blob = await read(client.fetch(ref, resolved.layers[-1], CREDS))
    assert blob == image.blobs[resolved.layers[-1].digest]
    tokens = [p for m, p, _ in token_registry.requests[before:] if p.startswith("/token")]
    assert len(tokens) == 1  # the token is reused for the blob
    assert "scope=repository%3Aclient%2Ftokened%3Apull" in tokens[0]


async def test_token_auth_wrong_credentials(registry: Registry, token_registry: Front):
    registry.push(oci.busybox_image(), "client/tokened2", "v1")
    c = RegistryClient(retries=0)
    try:
        with pytest.raises(RegistryAuthError, match="refused"):
            await c.resolve(
                parse(token_registry.ref("client/tokened2", "v1")),
                AuthConfig(username=USERNAME, password="bad"),
            )
    finally:
        await c.close()


async def test_registry_token_is_used_as_is(registry: Registry, token_registry: Front):
    image = oci.busybox_image()
    registry.push(image, "client/tokened3", "v1")
    token = token_registry.issue_token("repository:client/tokened3:pull")
    c = RegistryClient(retries=0)
    try:
        ref = parse(token_registry.ref("client/tokened3", "v1"))
        resolved = await c.resolve(ref, AuthConfig(registry_token=token))
        assert resolved.digest == image.digest
        with pytest.raises(RegistryAuthError):
            await RegistryClient(retries=0).resolve(ref, AuthConfig(registry_token="forged"))
    finally:
        await c.close()


async def test_identity_token_uses_the_oauth_flow(registry: Registry, token_registry: Front):
    image = oci.busybox_image(extra_files={"marker": b"identity"})
    registry.push(image, "client/identity", "v1")
    ref = parse(token_registry.ref("client/identity", "v1"))
    before = len(token_registry.requests)  # the front is the session's: others use it too
    for token, ok in (("wrong-refresh-token", False), (IDENTITY_TOKEN, True)):
        c = RegistryClient(retries=0)
        try:
            if ok:
                assert (await c.resolve(ref, AuthConfig(identity_token=token))).digest == (
                    image.digest
                )
            else:
                with pytest.raises(RegistryAuthError):
                    await c.resolve(ref, AuthConfig(identity_token=token))
        finally:
            await c.close()
    posts = [h for m, p, h in token_registry.requests[before:] if m == "POST"]
    assert len(posts) == 2


# --- hosts.toml ----------------------------------------------------------------------------


def write_hosts(root: Path, domain: str, text: str) -> HostsConfig:
    (root / domain).mkdir(parents=True, exist_ok=True)
    (root / domain / "hosts.toml").write_text(text)
    return HostsConfig(str(root))


async def test_mirrors_in_order_then_upstream(tmp_path: Path, registry: Registry, busybox):
    dead = f"127.0.0.1:{free_port()}"
    hosts = write_hosts(
        tmp_path,
        "upstream.invalid:5000",
        f'server = "http://{dead}"\n'
        f'[host."http://127.0.0.1:{free_port()}"]\n  capabilities = ["pull", "resolve"]\n'
        f'[host."http://{registry.host}"]\n  capabilities = ["pull", "resolve"]\n',
    )
    c = RegistryClient(hosts, retries=0)
    try:
        ref = parse("upstream.invalid:5000/client/busybox:v1")
        resolved = await c.resolve(ref, None)
        assert resolved.digest == busybox.digest
        assert resolved.name == "upstream.invalid:5000/client/busybox"
        blob = await read(c.fetch(ref, resolved.layers[0], None))
        assert blob == busybox.blobs[resolved.layers[0].digest]
    finally:
        await c.close()


async def test_mirror_sends_ns_and_headers(tmp_path: Path, registry_front, busybox):
    front = registry_front()
    hosts = write_hosts(
        tmp_path,
        "registry.example.com",
        f'[host."http://{front.host}"]\n  capabilities = ["pull", "resolve"]\n'
        f'  [host."http://{front.host}".header]\n    X-Mirror-Test = "hexcri"\n',
    )
    c = RegistryClient(hosts, retries=0)
    try:
        resolved = await c.resolve(parse("registry.example.com/client/busybox:v1"), None)
        assert resolved.digest == busybox.digest
    finally:
        await c.close()
    _, path, headers = front.requests[0]
    assert path == "/v2/client/busybox/manifests/v1?ns=registry.example.com"
    assert headers.get("X-Mirror-Test") == "hexcri"


async def test_stalled_mirror_resumes_on_upstream(tmp_path: Path, registry, registry_front):
    image = oci.large_image(layers=1, mib_per_layer=4, seed=7)
    registry.push(image, "client/large", "v1")
    desc = layer_descriptor(image, 1)
    front = registry_front(stall={desc.digest})
    hosts = write_hosts(
        tmp_path,
        registry.host,
        f'server = "http://{registry.host}"\n[host."http://{front.host}"]\n',
    )
    c = RegistryClient(hosts, progress_timeout=0.5, retries=0)
    try:
        ref = parse(registry.ref("client/large", "v1"))
        blob = await read(c.fetch(ref, desc, None))
    finally:
        await c.close()
    assert blob == image.blobs[desc.digest]


async def test_resolve_capability_is_respected(tmp_path: Path, registry_front, registry, busybox):
    front = registry_front()
    hosts = write_hosts(
        tmp_path,
        registry.host,
        f'server = "http://{registry.host}"\n'
        f'[host."http://{front.host}"]\n  capabilities = ["pull"]\n',
    )
    c = RegistryClient(hosts)
    try:
        ref = parse(registry.ref("client/busybox", "v1"))
        resolved = await c.resolve(ref, None)
        await read(c.fetch(ref, resolved.layers[0], None))
    finally:
        await c.close()
    paths = [p for _, p, _ in front.requests]
    assert not any("/manifests/v1" in p for p in paths)  # tags resolve upstream only
    assert any("/blobs/" in p for p in paths)  # blobs come from the mirror


async def test_plain_http_only_for_localhost(registry: Registry):
    c = RegistryClient(retries=0, request_timeout=2)
    try:
        host = c.hosts.hosts("127.0.0.1:5000")[0]
        assert host.base == "http://127.0.0.1:5000/v2"
        assert c.hosts.hosts("example.com:5000")[0].scheme == "https"
        assert c.hosts.hosts("docker.io")[0].base == "https://registry-1.docker.io/v2"
        assert c.hosts.hosts("localhost:5000")[0].scheme == "http"
    finally:
        await c.close()
