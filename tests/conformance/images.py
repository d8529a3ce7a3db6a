"""The images the specs name, built from busybox-static and pushed to the local registry under
the upstream repositories, so that both runtimes pull `registry.k8s.io/…` and
`gcr.io/k8s-staging-cri-tools/…` through the same hosts.toml mirrors.

Every test image has a config of its own (a label naming it), so no two of them share an image
ID: removing one by ID (as the image specs do) never removes another.
"""

from __future__ import annotations

import functools

from tests.support import oci
from tests.support.registry import Registry

# consts.go: `registry` and the image references of the image specs
STAGING = "gcr.io/k8s-staging-cri-tools/"
WITHOUT_TAG = STAGING + "test-image-latest"
WITH_TAG = STAGING + "test-image-tag:test"
ALL_REFERENCES = STAGING + "test-image-tag:all"
DIFFERENT_TAG_DIFFERENT_IMAGE = [STAGING + f"test-image-{n}:latest" for n in (1, 2, 3)]
DIFFERENT_TAG_SAME_IMAGE = [STAGING + f"test-image-tags:{n}" for n in (1, 2, 3)]

# (image, uid, username) of "image status get image fields should not have Uid|Username empty"
USER_IMAGES = {
    "UID only": (STAGING + "test-image-user-uid", 1002, ""),
    "Username only": (STAGING + "test-image-user-username", 0, "www-data"),
    "UID:group": (STAGING + "test-image-user-uid-group", 1003, ""),
    "Username:group": (STAGING + "test-image-user-username-group", 0, "www-data"),
}
_USER_CONFIGS = {
    "test-image-user-uid": "1002",
    "test-image-user-username": "www-data",
    "test-image-user-uid-group": "1003:users",
    "test-image-user-username-group": "www-data:users",
}


def _named(name: str, config: dict[str, object] | None = None) -> oci.OciImage:
    return oci.e2e_busybox_image({**(config or {}), "Labels": {"hexcri.conformance": name}})


@functools.cache
def digest_image() -> oci.OciImage:
    return _named("test-image-digest")


def with_digest() -> str:
    """testImageWithDigest: ours is pushed by digest only, so its digest is our image's."""
    return f"{STAGING}test-image-digest@{digest_image().digest}"


def push_all(registry: Registry) -> None:
    """Push every image of the suite; `<domain>/<path>` lands in the mirror as `<path>`."""
    registry.push(oci.e2e_busybox_image(), "e2e-test-images/busybox", "1.29-2")
    registry.push(oci.web_server_image("nginx"), "e2e-test-images/nginx", "1.14-2")
    registry.push(oci.web_server_image("httpd"), "e2e-test-images/httpd", "2.4.39-4")
    staging = "k8s-staging-cri-tools/"
    registry.push(_named("test-image-latest"), staging + "test-image-latest", "latest")
    registry.push(_named("test-image-tag:test"), staging + "test-image-tag", "test")
    registry.push(_named("test-image-tag:all"), staging + "test-image-tag", "all")
    registry.push(digest_image(), staging + "test-image-digest", None)
    for n in (1, 2, 3):
        registry.push(_named(f"test-image-{n}"), staging + f"test-image-{n}", "latest")
    same = _named("test-image-tags")
    for n in (1, 2, 3):
        registry.push(same, staging + "test-image-tags", str(n))
    for repo, user in _USER_CONFIGS.items():
        registry.push(_named(repo, {"User": user}), staging + repo, "latest")
