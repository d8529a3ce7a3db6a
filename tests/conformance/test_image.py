"""cri-tools `pkg/validate/image.go`: "Image Manager". The images live in the local registry
under their upstream names (see `images.py`) and are pulled through the hosts.toml mirrors."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest
from cri_api.v1 import api_pb2 as cri

from tests.conformance import framework as fw
from tests.conformance import images

pytestmark = [pytest.mark.containerd, pytest.mark.registry, pytest.mark.cni]

# testImagePodSandbox: the pod config sent along with every pull
TEST_IMAGE_POD_SANDBOX = cri.PodSandboxConfig(labels={})


def remove_image_and_check(c: fw.Endpoint, name: str) -> None:
    """testRemoveImage: remove, then the image has no status."""
    fw.remove_image(c, name)
    assert fw.image_status(c, name) is None, "Should have none image in list"


def check_pull_public_image(
    c: fw.Endpoint, name: str, status_check: Callable[[cri.Image], None]
) -> None:
    """testPullPublicImage: pull a missing image, check its status, remove it."""
    fw.remove_image(c, name)
    fw.pull_public_image(c, name, TEST_IMAGE_POD_SANDBOX)
    status = fw.image_status(c, name)
    assert status is not None, "Should have one image in list"
    # upstream's `NotTo(BeNil())` on the ID and size always holds; ours asks them to be set
    assert status.id, "Image Id should not be empty"
    assert status.size, "Image Size should not be zero"
    status_check(status)
    remove_image_and_check(c, name)


@fw.on_both()
def test_image_with_tag(c: fw.Endpoint) -> None:
    """public image with tag should be pulled and removed [Conformance]"""

    def check(s: cri.Image) -> None:
        assert list(s.repo_tags) == [images.WITH_TAG]

    check_pull_public_image(c, images.WITH_TAG, check)


@fw.on_both()
def test_pull_timeout(c: fw.Endpoint) -> None:
    """public image should timeout if requested [Conformance]"""
    request = cri.PullImageRequest(image=cri.ImageSpec(image=images.WITH_TAG))
    with pytest.raises(grpc.RpcError) as failed:
        c.images.PullImage(request, timeout=0.001)
    assert failed.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


@fw.on_both()
def test_image_without_tag(c: fw.Endpoint) -> None:
    """public image without tag should be pulled and removed [Conformance]"""

    def check(s: cri.Image) -> None:
        assert list(s.repo_tags) == [images.WITHOUT_TAG + ":latest"]

    check_pull_public_image(c, images.WITHOUT_TAG, check)


@fw.on_both()
def test_image_with_digest(c: fw.Endpoint) -> None:
    """public image with digest should be pulled and removed [Conformance]"""

    def check(s: cri.Image) -> None:
        assert list(s.repo_tags) == []
        assert list(s.repo_digests) == [images.with_digest()]

    check_pull_public_image(c, images.with_digest(), check)


@fw.on_both()
def test_image_status_all_references(c: fw.Endpoint) -> None:
    """image status should support all kinds of references [Conformance]"""
    name = images.ALL_REFERENCES
    fw.remove_image(c, name)
    fw.pull_public_image(c, name, TEST_IMAGE_POD_SANDBOX)
    status = fw.image_status(c, name)
    assert status is not None, "should get image status"
    assert fw.image_status(c, status.id) == status, f"image status with {status.id}"
    for ref in [*status.repo_tags, *status.repo_digests]:
        assert fw.image_status(c, ref) == status, f"image status with {ref}"
    remove_image_and_check(c, name)


@fw.on_both()
def test_image_status_uid_username(c: fw.Endpoint) -> None:
    """image status get image fields should not have Uid|Username empty [Conformance]"""
    pulled = []
    for description, (name, uid, username) in images.USER_IMAGES.items():
        fw.pull_public_image(c, name, TEST_IMAGE_POD_SANDBOX)
        pulled.append(name)
        status = fw.image_status(c, name)
        assert status is not None, description
        assert status.uid.value == uid, f"{description}, Image Uid should be {uid}"
        assert status.username == username, f"{description}, Image Username should be {username}"
    for name in reversed(pulled):  # upstream's deferred removeImage calls, last first
        fw.remove_image(c, name)


def pull_image_list(c: fw.Endpoint, names: list[str]) -> list[str]:
    return [fw.pull_public_image(c, name, TEST_IMAGE_POD_SANDBOX) for name in names]


def remove_image_list(c: fw.Endpoint, names: list[str]) -> None:
    for name in names:
        fw.remove_image(c, name)


@fw.on_both()
def test_list_three_images(c: fw.Endpoint) -> None:
    """listImage should get exactly 3 image in the result list [Conformance]"""
    names = images.DIFFERENT_TAG_DIFFERENT_IMAGE
    remove_image_list(c, names)
    ids = pull_image_list(c, names)
    assert len(ids) == 3, "3 image ids should be returned"
    listed = {image.id: image for image in fw.list_images(c, cri.ImageFilter())}
    for image_id, name in zip(ids, names, strict=True):
        # ours: upstream checks only the images it finds listed, and passes on a missing one
        assert image_id in listed, f"the pulled {name} is listed under its ID {image_id}"
        assert list(listed[image_id].repo_tags) == [name], "Should only have 1 repo tag"
    remove_image_list(c, names)


@fw.on_both()
def test_list_three_repo_tags(c: fw.Endpoint) -> None:
    """listImage should get exactly 3 repoTags in the result image [Conformance]"""
    names = images.DIFFERENT_TAG_SAME_IMAGE
    remove_image_list(c, names)
    ids = sorted(set(pull_image_list(c, names)))
    assert len(ids) == 1, "Only 1 image id should be returned"
    listed = {image.id: image for image in fw.list_images(c, cri.ImageFilter())}
    assert ids[0] in listed, f"(ours, as above) the pulled image is listed under its ID {ids[0]}"
    assert sorted(listed[ids[0]].repo_tags) == sorted(names), "3 repoTags in a single image"
    remove_image_list(c, names)
