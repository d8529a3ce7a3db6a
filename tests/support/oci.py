"""An OCI image writer for the tests: layers, configs, manifests, indexes, layouts and pushes.

Images are built from Debian's busybox-static and from the project's own pause (compiled from
`tests/support/pause/pause.c` with `gcc -static`). An `OciImage` holds every blob by digest;
it can be written as an OCI image-layout tarball (for `ctr images import`) or pushed to a
registry through the distribution HTTP API.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import io
import json
import os
import random
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

BUSYBOX = "/usr/bin/busybox"
PAUSE_SOURCE = Path(__file__).parent / "pause" / "pause.c"
CACHE_DIR = Path(os.environ.get("HEXCRI_TEST_CACHE", "/tmp/hexcri-test-cache"))

APPLETS = (
    "sh", "ash", "echo", "cat", "sleep", "ls", "env", "id", "hostname", "wget", "nc", "httpd",
    "true", "false", "kill", "ps", "mkdir", "touch", "grep", "head", "tail", "rm", "cp", "mv",
    "ln", "chmod", "chown", "pwd", "printf", "test", "[", "sed", "awk", "wc", "date", "uname",
    "whoami", "mount", "umount", "ip", "ifconfig", "ping", "nslookup", "top", "find", "xargs",
    "tee", "stat", "du", "df", "readlink", "seq", "yes", "sync", "dd", "sort", "uniq", "tr",
    "cut", "basename", "dirname", "which", "vi", "tar", "gzip", "gunzip", "md5sum",
    "sha256sum", "nproc", "free", "timeout", "usleep",
)  # fmt: skip

# as docker.io/library/busybox's: root is a member of wheel (containerd's CRI tests rely on it)
PASSWD = (
    b"root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
    b"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
)
GROUP = b"root:x:0:\ndaemon:x:1:\nwheel:x:10:root\nnogroup:x:65534:\nnobody:x:65534:\n"

# media types
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


# --- layers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layer:
    """A gzip-compressed layer: its blob, and the digest of the uncompressed tar (diff ID)."""

    blob: bytes
    diff_id: str

    @property
    def digest(self) -> str:
        return sha256(self.blob)

    @property
    def size(self) -> int:
        return len(self.blob)


class LayerBuilder:
    """Builds a deterministic layer tar (fixed mtimes, root ownership)."""

    def __init__(self) -> None:
        self._buf = io.BytesIO()
        self._tar = tarfile.open(  # noqa: SIM115 - closed by build()
            fileobj=self._buf, mode="w", format=tarfile.PAX_FORMAT
        )
        self._dirs: set[str] = set()

    def _info(self, name: str, kind: bytes, mode: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.mode = mode
        info.mtime = 0
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    def dir(self, name: str, mode: int = 0o755) -> LayerBuilder:
        name = name.strip("/")
        parent = os.path.dirname(name)
        if parent and parent not in self._dirs:
            self.dir(parent)
        if name not in self._dirs:
            self._dirs.add(name)
            self._tar.addfile(self._info(name, tarfile.DIRTYPE, mode))
        return self

    def file(self, name: str, data: bytes, mode: int = 0o644) -> LayerBuilder:
        name = name.strip("/")
        if os.path.dirname(name):
            self.dir(os.path.dirname(name))
        info = self._info(name, tarfile.REGTYPE, mode)
        info.size = len(data)
        self._tar.addfile(info, io.BytesIO(data))
        return self

    def symlink(self, name: str, target: str) -> LayerBuilder:
        name = name.strip("/")
        if os.path.dirname(name):
            self.dir(os.path.dirname(name))
        info = self._info(name, tarfile.SYMTYPE, 0o777)
        info.linkname = target
        self._tar.addfile(info)
        return self

    def whiteout(self, name: str) -> LayerBuilder:
        """An OCI whiteout hiding `name` of a lower layer."""
        head, tail = os.path.split(name.strip("/"))
        return self.file(os.path.join(head, ".wh." + tail), b"")

    def build(self, compresslevel: int = 6) -> Layer:
        self._tar.close()
        raw = self._buf.getvalue()
        out = io.BytesIO()
        with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=compresslevel) as gz:
            gz.write(raw)
        return Layer(blob=out.getvalue(), diff_id=sha256(raw))


def files_layer(files: Mapping[str, bytes], compresslevel: int = 6) -> Layer:
    """A layer holding `files` (path → content)."""
    builder = LayerBuilder()
    for name, data in files.items():
        builder.file(name, data)
    return builder.build(compresslevel)


@functools.cache
def busybox_layer() -> Layer:
    """/bin/busybox with the usual applets, /etc/passwd and /etc/group, /tmp, /root."""
    builder = LayerBuilder()
    for name in ("bin", "etc", "proc", "dev", "sys", "root", "var", "usr", "home"):
        builder.dir(name, 0o700 if name == "root" else 0o755)
    builder.dir("tmp", 0o1777)
    builder.file("bin/busybox", Path(BUSYBOX).read_bytes(), 0o755)
    for applet in APPLETS:
        builder.symlink(f"bin/{applet}", "busybox")
    builder.file("etc/passwd", PASSWD)
    builder.file("etc/group", GROUP)
    return builder.build()


# --- images and indexes ---------------------------------------------------------------------


def descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": sha256(data), "size": len(data), **extra}


@dataclass
class OciImage:
    """One image (or an index of images) with every blob it needs, by digest."""

    manifest: dict[str, Any]
    manifest_bytes: bytes
    media_type: str
    blobs: dict[str, bytes] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    children: list[OciImage] = field(default_factory=list)
    platform: dict[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        """The manifest (or index) digest: what a `repo@digest` reference names."""
        return sha256(self.manifest_bytes)

    @property
    def config_digest(self) -> str:
        """The image ID (for an index: its linux/amd64 child's)."""
        if self.children:
            return self.child("linux", "amd64").config_digest
        return str(self.manifest["config"]["digest"])

    @property
    def diff_ids(self) -> list[str]:
        return list(self.config["rootfs"]["diff_ids"])

    @property
    def chain_id(self) -> str:
        """The chain ID of the top layer (the snapshot key of the unpacked image)."""
        chain = ""
        for diff_id in self.diff_ids:
            chain = diff_id if not chain else sha256(f"{chain} {diff_id}".encode())
        return chain

    @property
    def size(self) -> int:
        """Bytes of manifest, config and layers (compressed), as the CRI reports size."""
        own = len(self.manifest_bytes)
        if self.children:
            return own + sum(c.size for c in self.children)
        return own + sum(len(b) for b in self.blobs.values())

    def child(self, os_: str, architecture: str, variant: str = "") -> OciImage:
        for child in self.children:
            p = child.platform
            if (p.get("os"), p.get("architecture"), p.get("variant", "")) == (
                os_,
                architecture,
                variant,
            ):
                return child
        raise KeyError(f"no {os_}/{architecture}{'/' + variant if variant else ''} child")

    def all_blobs(self) -> dict[str, bytes]:
        """Every blob of this image and its children (manifests of children included)."""
        out = dict(self.blobs)
        for child in self.children:
            out.update(child.all_blobs())
            out[child.digest] = child.manifest_bytes
        return out

    def descriptor(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"platform": dict(self.platform)} if self.platform else {}
        return descriptor(self.media_type, self.manifest_bytes, **extra)

    # --- outputs ----------------------------------------------------------------------------

    def write_layout_tar(self, path: str | Path, ref_name: str) -> None:
        """An OCI image-layout tarball; `index.json` names the image `ref_name`.

        `ctr images import` takes `org.opencontainers.image.ref.name` as the image name when
        it is a full reference (e.g. `docker.io/library/busybox:latest`).
        """
        top = self.descriptor()
        top["annotations"] = {
            "org.opencontainers.image.ref.name": ref_name,
            "io.containerd.image.name": ref_name,
        }
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [top]}
        blobs = self.all_blobs()
        blobs[self.digest] = self.manifest_bytes
        with tarfile.open(path, "w") as tar:
            entries: list[tuple[str, bytes]] = [
                ("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode()),
                ("index.json", json.dumps(index).encode()),
            ]
            entries += [(f"blobs/sha256/{d[7:]}", data) for d, data in sorted(blobs.items())]
            for name, data in entries:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(data))

    def push(
        self,
        base_url: str,
        repository: str,
        tag: str | None,
        auth: tuple[str, str] | None = None,
    ) -> str:
        """Push every blob, the child manifests and this manifest (by tag, or by digest when
        `tag` is None) to the registry at `base_url`; returns the manifest digest."""
        with RegistryPusher(base_url, auth) as pusher:
            pusher.push_image(self, repository, tag)
        return self.digest


def build_image(
    layers: Iterable[Layer],
    config: Mapping[str, Any] | None = None,
    os: str = "linux",
    architecture: str = "amd64",
    variant: str = "",
    docker: bool = False,
    labels: Mapping[str, str] | None = None,
) -> OciImage:
    """An image of `layers` whose runtime config is `config` (`Env`, `Cmd`, `User`, …).

    `docker=True` uses Docker schema 2 media types instead of OCI ones.
    """
    layers = list(layers)
    runtime_config = dict(config or {})
    if labels:
        runtime_config["Labels"] = {**runtime_config.get("Labels", {}), **labels}
    platform = {"architecture": architecture, "os": os}
    if variant:
        platform["variant"] = variant
    image_config: dict[str, Any] = {
        **platform,
        "created": "2024-01-01T00:00:00Z",
        "config": runtime_config,
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [{"created_by": "hexcri tests"} for _ in layers],
    }
    config_bytes = canonical_json(image_config)
    layer_type = DOCKER_LAYER_GZIP if docker else OCI_LAYER_GZIP
    manifest_type = DOCKER_MANIFEST if docker else OCI_MANIFEST
    manifest = {
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": descriptor(DOCKER_CONFIG if docker else OCI_CONFIG, config_bytes),
        "layers": [
            {"mediaType": layer_type, "digest": layer.digest, "size": layer.size}
            for layer in layers
        ],
    }
    blobs = {layer.digest: layer.blob for layer in layers}
    blobs[sha256(config_bytes)] = config_bytes
    return OciImage(
        manifest=manifest,
        manifest_bytes=canonical_json(manifest),
        media_type=manifest_type,
        blobs=blobs,
        config=image_config,
        platform=platform,
    )


def build_index(images: Iterable[OciImage], docker: bool = False) -> OciImage:
    """A multi-platform index (or Docker manifest list) of `images`."""
    children = list(images)
    media_type = DOCKER_LIST if docker else OCI_INDEX
    index = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [child.descriptor() for child in children],
    }
    return OciImage(
        manifest=index,
        manifest_bytes=canonical_json(index),
        media_type=media_type,
        children=children,
    )


def busybox_image(
    config: Mapping[str, Any] | None = None,
    architecture: str = "amd64",
    variant: str = "",
    extra_files: Mapping[str, bytes] | None = None,
    docker: bool = False,
) -> OciImage:
    """A busybox image; `extra_files` become a second layer (to make distinct images)."""
    layers = [busybox_layer()]
    if extra_files:
        layers.append(files_layer(extra_files))
    cfg: dict[str, Any] = {
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "Cmd": ["sh"],
    }
    cfg.update(config or {})
    return build_image(layers, cfg, architecture=architecture, variant=variant, docker=docker)


def multiplatform_busybox() -> OciImage:
    """An index of linux/amd64 (busybox) and linux/arm64, linux/arm/v7 decoys.

    The decoys carry a marker file naming their platform so that a wrong pick is visible.
    """
    decoys = [
        build_image(
            [files_layer({"platform": f"linux/{arch}{'/' + var if var else ''}".encode()})],
            {"Cmd": ["/bin/false"]},
            architecture=arch,
            variant=var,
        )
        for arch, var in (("arm64", "v8"), ("arm", "v7"), ("s390x", ""))
    ]
    amd64 = busybox_image(extra_files={"platform": b"linux/amd64"})
    return build_index([decoys[0], amd64, *decoys[1:]])


# --- stand-ins for the Kubernetes e2e test images -----------------------------------------

# Debian's busybox-static has no pgrep applet; the e2e busybox image has one. This one prints
# the pids of the processes whose name (comm) is exactly $1 and fails when there is none.
PGREP = b"""#!/bin/sh
found=1
for dir in /proc/[0-9]*; do
  if [ "$(cat "$dir/comm" 2>/dev/null)" = "$1" ]; then echo "${dir#/proc/}"; found=0; fi
done
exit $found
"""
E2E_PASSWD = PASSWD + b"www-data:x:33:33:www-data:/var/www:/bin/false\n"
E2E_GROUP = GROUP + b"www-data:x:33:\nusers:x:100:\n"


@functools.cache
def e2e_tools_layer() -> Layer:
    """/bin/pgrep, and /etc/passwd, /etc/group with a www-data user and a users group."""
    return (
        LayerBuilder()
        .file("bin/pgrep", PGREP, 0o755)
        .file("etc/passwd", E2E_PASSWD)
        .file("etc/group", E2E_GROUP)
        .build()
    )


def e2e_busybox_image(config: Mapping[str, Any] | None = None) -> OciImage:
    """A stand-in for registry.k8s.io/e2e-test-images/busybox: busybox with pgrep and
    www-data; `config` overrides the image config (`User`, `Cmd`, …)."""
    cfg: dict[str, Any] = {
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "Cmd": ["sh"],
    }
    cfg.update(config or {})
    return build_image([busybox_layer(), e2e_tools_layer()], cfg)


def web_server_image(name: str, port: int = 80) -> OciImage:
    """A stand-in for the e2e nginx/httpd images: busybox httpd serving /srv/index.html on
    `port`; it names itself (`<name>: serving on :<port>`) on stderr as it starts."""
    page = files_layer({"srv/index.html": f"<h1>{name}</h1>\n".encode()})
    start = f"echo '{name}: serving on :{port}' >&2; exec httpd -f -v -p {port} -h /srv"
    return build_image(
        [busybox_layer(), e2e_tools_layer(), page],
        {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Entrypoint": ["/bin/sh", "-c", start],
            "ExposedPorts": {f"{port}/tcp": {}},
        },
    )


# --- pause ----------------------------------------------------------------------------------


def pause_binary() -> Path:
    """The project's pause, built once per source version into the cache dir."""
    source = PAUSE_SOURCE.read_bytes()
    out = CACHE_DIR / f"pause-{hashlib.sha256(source).hexdigest()[:16]}"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(f".tmp{os.getpid()}")
        subprocess.run(
            ["gcc", "-static", "-O2", "-Wall", "-o", str(tmp), str(PAUSE_SOURCE)],
            check=True,
            capture_output=True,
        )
        subprocess.run(["strip", str(tmp)], check=False, capture_output=True)
        tmp.replace(out)
    return out


def pause_image() -> OciImage:
    """A one-layer image whose entrypoint is `/pause`, run as nobody as upstream's is."""
    layer = (
        LayerBuilder()
        .file("pause", pause_binary().read_bytes(), 0o755)
        .file("etc/passwd", PASSWD)
        .file("etc/group", GROUP)
        .build()
    )
    return build_image([layer], {"Entrypoint": ["/pause"], "User": "65535:65535"})


# --- a realistic image for the benchmark --------------------------------------------------


def large_image(layers: int = 5, mib_per_layer: int = 8, seed: int = 1) -> OciImage:
    """busybox plus `layers` layers of incompressible data files (`mib_per_layer` MiB each).

    The data is pseudo-random from `seed`, so the image (and its digests) is reproducible.
    """
    rng = random.Random(seed)
    out = [busybox_layer()]
    for n in range(layers):
        files = {
            f"data/layer{n}/file{i}.bin": rng.randbytes(1024 * 1024) for i in range(mib_per_layer)
        }
        out.append(files_layer(files, compresslevel=1))
    cfg = {"Env": ["PATH=/bin"], "Cmd": ["sh"], "Labels": {"hexcri.test": "large"}}
    return build_image(out, cfg)


# --- pushing --------------------------------------------------------------------------------


class RegistryPusher:
    """Pushes blobs and manifests through the distribution API (monolithic uploads).

    Handles anonymous, Basic and Bearer (token endpoint from `WWW-Authenticate`) registries.
    """

    def __init__(self, base_url: str, auth: tuple[str, str] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.client = httpx.Client(timeout=120, verify=False)
        self._headers: dict[str, str] = {}

    def __enter__(self) -> RegistryPusher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        if not url.startswith("http"):
            url = self.base_url + url
        headers = {**kwargs.pop("headers", {}), **self._headers}
        resp = self.client.request(method, url, headers=headers, **kwargs)
        if resp.status_code == 401 and self._authenticate(resp):
            headers = {**headers, **self._headers}
            resp = self.client.request(method, url, headers=headers, **kwargs)
        return resp

    def _authenticate(self, resp: httpx.Response) -> bool:
        challenge = resp.headers.get("www-authenticate", "")
        scheme, _, params = challenge.partition(" ")
        if scheme.lower() == "basic" and self.auth:
            token = base64.b64encode(":".join(self.auth).encode()).decode()
            self._headers = {"Authorization": f"Basic {token}"}
            return True
        if scheme.lower() == "bearer":
            fields = dict(
                (k.strip(), v.strip('"'))
                for k, _, v in (p.partition("=") for p in _split_params(params))
            )
            query: dict[str, str] = {k: fields[k] for k in ("service", "scope") if k in fields}
            reply = self.client.get(
                fields["realm"], params=query, auth=self.auth or httpx.USE_CLIENT_DEFAULT
            )
            reply.raise_for_status()
            body = reply.json()
            value = body.get("token") or body.get("access_token")
            self._headers = {"Authorization": f"Bearer {value}"}
            return True
        return False

    def push_blob(self, repository: str, digest: str, data: bytes) -> None:
        head = self._request("HEAD", f"/v2/{repository}/blobs/{digest}")
        if head.status_code == 200:
            return
        start = self._request("POST", f"/v2/{repository}/blobs/uploads/")
        if start.status_code != 202:
            raise RuntimeError(f"upload start: {start.status_code} {start.text}")
        location = start.headers["location"]
        if not location.startswith("http"):
            location = self.base_url + location
        put = self._request(
            "PUT",
            str(httpx.URL(location).copy_add_param("digest", digest)),
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        if put.status_code != 201:
            raise RuntimeError(f"upload of {digest}: {put.status_code} {put.text}")

    def push_manifest(self, repository: str, ref: str, media_type: str, data: bytes) -> None:
        put = self._request(
            "PUT",
            f"/v2/{repository}/manifests/{ref}",
            content=data,
            headers={"Content-Type": media_type},
        )
        if put.status_code != 201:
            raise RuntimeError(f"manifest {repository}:{ref}: {put.status_code} {put.text}")

    def push_image(self, image: OciImage, repository: str, tag: str | None) -> None:
        for child in image.children:
            self.push_image(child, repository, None)
        for digest, data in image.blobs.items():
            self.push_blob(repository, digest, data)
        self.push_manifest(repository, tag or image.digest, image.media_type, image.manifest_bytes)


def _split_params(params: str) -> list[str]:
    """Split `a="x,y",b=z` at the commas outside quotes."""
    out, cur, quoted = [], "", False
    for ch in params:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def write_temp_layout(image: OciImage, ref_name: str, directory: str | Path | None = None) -> Path:
    """Write `image` as a layout tarball in a temp file; the caller removes it."""
    fd, name = tempfile.mkstemp(suffix=".tar", dir=directory)
    os.close(fd)
    image.write_layout_tar(name, ref_name)
    return Path(name)
