"""hosts.toml parsing and platform selection (no registry needed)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from adapters.registry import HostsConfig
from adapters.registry.auth import credentials_for, parse_challenges
from adapters.registry.platforms import normalise, select
from domain.errors import InvalidArgument
from domain.model import AuthConfig
from ports.registry import Descriptor, Platform, RegistryAuthError


def write(root: Path, domain: str, text: str) -> HostsConfig:
    (root / domain).mkdir(parents=True, exist_ok=True)
    (root / domain / "hosts.toml").write_text(text)
    return HostsConfig(str(root))


def test_hosts_toml_fields(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        "docker.io",
        'server = "https://registry-1.docker.io"\n'
        '[host."https://mirror.example.com/base"]\n'
        '  capabilities = ["pull"]\n'
        '  ca = "mirror-ca.pem"\n'
        "  skip_verify = true\n"
        '  header = { X-A = "1", X-B = ["2", "3"] }\n'
        '[host."http://10.0.0.1:5000/raw"]\n'
        "  override_path = true\n",
    )
    first, second, server = config.hosts("docker.io")
    assert first.base == "https://mirror.example.com/base/v2"
    assert first.capabilities == {"pull"}
    assert first.ca == (str(tmp_path / "docker.io" / "mirror-ca.pem"),)
    assert first.skip_verify
    assert first.headers == (("X-A", "1"), ("X-B", "2"), ("X-B", "3"))
    assert first.url("library/busybox/manifests/1") == (
        "https://mirror.example.com/base/v2/library/busybox/manifests/1?ns=docker.io"
    )
    assert second.base == "http://10.0.0.1:5000/raw"
    assert second.capabilities == {"pull", "resolve"}
    assert server.base == "https://registry-1.docker.io/v2" and not server.mirror_of
    assert "resolve" in server.capabilities


def test_default_dir_and_missing_server(tmp_path: Path) -> None:
    config = write(tmp_path, "_default", '[host."http://127.0.0.1:5000"]\n')
    mirror, upstream = config.hosts("quay.io")
    assert mirror.base == "http://127.0.0.1:5000/v2" and mirror.mirror_of == "quay.io"
    assert upstream.base == "https://quay.io/v2"
    assert HostsConfig(str(tmp_path / "absent")).hosts("quay.io")[0].base == "https://quay.io/v2"


def test_bad_hosts_toml_is_invalid(tmp_path: Path) -> None:
    config = write(tmp_path, "bad.example.com", "server = [\n")
    with pytest.raises(InvalidArgument, match=r"hosts\.toml"):
        config.hosts("bad.example.com")
    config = write(tmp_path, "ftp.example.com", 'server = "ftp://ftp.example.com"\n')
    with pytest.raises(InvalidArgument):
        config.hosts("ftp.example.com")


def test_ipv6_localhost_is_plain_http() -> None:
    assert HostsConfig().hosts("[::1]:5000")[0].base == "http://[::1]:5000/v2"


def entry(os_: str, arch: str, variant: str = "", n: int = 0) -> Descriptor:
    return Descriptor(
        media_type="application/vnd.oci.image.manifest.v1+json",
        digest=f"sha256:{n:064x}",
        size=1,
        platform=Platform(os=os_, architecture=arch, variant=variant),
    )


def test_platform_selection() -> None:
    index = [
        entry("linux", "arm64", "v8", 1),
        entry("linux", "arm", "v6", 2),
        entry("linux", "amd64", "v1", 3),
        entry("windows", "amd64", "", 4),
        entry("linux", "amd64", "", 5),
        entry("unknown", "unknown", "", 6),
    ]
    assert select(index, normalise("linux", "amd64")) == index[2]  # v1 is amd64; first wins
    assert select(index, normalise("linux", "x86_64")) == index[2]
    assert select(index, normalise("linux", "aarch64")) == index[0]
    assert select(index, normalise("linux", "arm", "v7")) == index[1]  # v7 runs v6
    assert select([*index, entry("linux", "arm", "v7", 7)], normalise("linux", "arm")).digest == (
        f"sha256:{7:064x}"
    )
    assert select(index, normalise("linux", "arm", "v5")) is None
    assert select(index, normalise("linux", "s390x")) is None
    assert select([entry("linux", "amd64", "v3", 8)], normalise("linux", "amd64")) is None


def test_challenges_and_credentials() -> None:
    headers = httpx.Headers(
        [
            ("WWW-Authenticate", 'Bearer realm="https://auth.example/token",service="reg",'
             'scope="repository:a/b:pull,push"'),
            ("WWW-Authenticate", 'Basic realm="x"'),
        ]
    )  # fmt: skip
    bearer, basic = parse_challenges(headers)
    assert bearer.scheme == "bearer" and basic.scheme == "basic"
    assert bearer.params == {
        "realm": "https://auth.example/token",
        "service": "reg",
        "scope": "repository:a/b:pull,push",
    }
    auth = AuthConfig(auth="dXNlcjpwYTpzcw==")  # user:pa:ss
    creds = credentials_for(auth, "reg.example", "reg.example")
    assert (creds.username, creds.password) == ("user", "pa:ss")
    assert "pa:ss" not in repr(creds)
    assert credentials_for(auth, "mirror.example", "reg.example").empty
    with pytest.raises(RegistryAuthError):
        credentials_for(AuthConfig(auth="bm9jb2xvbg=="), "r", "r")  # "nocolon"
