"""The local registries the tests use behave as registries do."""

from __future__ import annotations

import httpx
import pytest

from tests.support import oci
from tests.support.registry import PASSWORD, USERNAME, Front, Registry

pytestmark = pytest.mark.registry


def test_push_then_get_manifest(registry: Registry) -> None:
    image = oci.busybox_image(extra_files={"marker": b"local-registries"})
    digest = registry.push(image, "support/busybox", "v1")
    resp = httpx.get(
        f"{registry.url}/v2/support/busybox/manifests/v1", headers={"Accept": oci.OCI_MANIFEST}
    )
    assert resp.status_code == 200
    assert resp.headers["docker-content-digest"] == digest
    assert resp.content == image.manifest_bytes


def test_basic_auth_registry_requires_credentials(auth_registry: Registry) -> None:
    auth_registry.push(oci.busybox_image(), "support/private", "v1")
    url = f"{auth_registry.url}/v2/support/private/manifests/v1"
    accept = {"Accept": oci.OCI_MANIFEST}
    assert httpx.get(url, headers=accept).status_code == 401
    assert httpx.get(url, headers=accept, auth=(USERNAME, "wrong")).status_code == 401
    assert httpx.get(url, headers=accept, auth=(USERNAME, PASSWORD)).status_code == 200


def test_token_front_flow(registry: Registry, token_registry: Front) -> None:
    registry.push(oci.busybox_image(), "support/tokened", "v1")
    url = f"{token_registry.url}/v2/support/tokened/manifests/v1"
    accept = {"Accept": oci.OCI_MANIFEST}
    challenge = httpx.get(url, headers=accept)
    assert challenge.status_code == 401
    header = challenge.headers["www-authenticate"]
    assert header.startswith("Bearer realm=")
    assert 'scope="repository:support/tokened:pull"' in header
    realm = f"{token_registry.url}/token"
    query = {"service": "hexcri-test-registry", "scope": "repository:support/tokened:pull"}
    assert httpx.get(realm, params=query, auth=(USERNAME, "nope")).status_code == 401
    token = httpx.get(realm, params=query, auth=(USERNAME, PASSWORD)).json()["token"]
    ok = httpx.get(url, headers={**accept, "Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    other = f"{token_registry.url}/v2/support/other/manifests/v1"
    assert httpx.get(other, headers={"Authorization": f"Bearer {token}"}).status_code == 401
