"""The images the specs name, built from busybox-static and pushed to the local registry under
the upstream repositories, so that both runtimes pull `registry.k8s.io/…` and
`gcr.io/k8s-staging-cri-tools/…` through the same hosts.toml mirrors.

Every test image has a config of its own (a label naming it), so no two of them share an image
ID: removing one by ID (as the image specs do) never removes another.
"""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
from pathlib import Path

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


# --- the security context specs (test_security_context pushes these itself) -------------------

# security_context_linux.go: noNewPrivsImage; a setuid-root program printing its effective uid
NO_NEW_PRIVS_IMAGE = "registry.k8s.io/e2e-test-images/nonewprivs:1.3"
_NNP_SOURCE = b"""#include <stdio.h>
#include <unistd.h>
int main(void) { printf("Effective uid: %d\\n", (int)geteuid()); return 0; }
"""
# consts.go: testImagePreDefinedGroup, whose default user (1000) is in a group of its /etc/group
PREDEFINED_GROUP_IMAGE = STAGING + "test-image-predefined-group"
PREDEFINED_GROUP_UID = 1000
PREDEFINED_GROUP_GID = 50000


def _nnp_binary() -> Path:
    """The stand-in's program, built once per source into the test cache dir."""
    out = oci.CACHE_DIR / f"nnp-{hashlib.sha256(_NNP_SOURCE).hexdigest()[:16]}"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        source = out.with_suffix(f".{os.getpid()}.c")
        source.write_bytes(_NNP_SOURCE)
        tmp = out.with_suffix(f".tmp{os.getpid()}")
        subprocess.run(["gcc", "-static", "-O2", "-o", str(tmp), str(source)], check=True)
        source.unlink()
        tmp.replace(out)
    return out


@functools.cache
def no_new_privs_image() -> oci.OciImage:
    """/usr/local/bin/nnp, setuid root (mode 4755), as the entrypoint."""
    layer = oci.LayerBuilder().file("usr/local/bin/nnp", _nnp_binary().read_bytes(), 0o4755)
    return oci.build_image([layer.build()], {"Entrypoint": ["/usr/local/bin/nnp"]})


@functools.cache
def predefined_group_image() -> oci.OciImage:
    """busybox run as default-user (1000:1000), also a member of group 50000 in /etc/group."""
    user = f"default-user:x:{PREDEFINED_GROUP_UID}:{PREDEFINED_GROUP_UID}::/home:/bin/sh\n"
    groups = (
        f"default-user:x:{PREDEFINED_GROUP_UID}:\n"
        f"group-defined-in-image:x:{PREDEFINED_GROUP_GID}:default-user\n"
    )
    extra = oci.files_layer(
        {"etc/passwd": oci.E2E_PASSWD + user.encode(), "etc/group": oci.E2E_GROUP + groups.encode()}
    )
    config = {
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "User": "default-user",
        "Labels": {"hexcri.conformance": "test-image-predefined-group"},
    }
    return oci.build_image([oci.busybox_layer(), oci.e2e_tools_layer(), extra], config)


def push_security(registry: Registry) -> None:
    """Push the images only the security context specs use."""
    registry.push(no_new_privs_image(), "e2e-test-images/nonewprivs", "1.3")
    registry.push(
        predefined_group_image(), "k8s-staging-cri-tools/test-image-predefined-group", "latest"
    )
