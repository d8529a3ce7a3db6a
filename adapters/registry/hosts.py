"""Registry hosts for a domain, after containerd's `certs.d/<host>/hosts.toml` layout.

`<config_dir>/<domain>/hosts.toml` (else `<config_dir>/_default/hosts.toml`) lists mirrors as
`[host."<url>"]` tables, tried in file order, then the `server` (default: the domain itself
over HTTPS; `registry-1.docker.io` for docker.io). Each host may set `capabilities`
(`pull`, `resolve`, `push`), `skip_verify`, `ca`, `client`, `header` and `override_path`.
Without configuration, localhost / 127.0.0.1 / ::1 are spoken to over plain HTTP, as
containerd does.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from domain.errors import InvalidArgument

log = logging.getLogger(__name__)

DOCKER_HUB = "docker.io"
DOCKER_HUB_SERVER = "https://registry-1.docker.io"
LOCALHOSTS = ("localhost", "127.0.0.1", "::1")
DEFAULT_CAPABILITIES = frozenset({"pull", "resolve"})


@dataclass(frozen=True)
class Host:
    """One endpoint to ask for a domain's content: a mirror or the upstream server."""

    scheme: str
    netloc: str
    path: str = "/v2"  # the API root, without trailing slash
    capabilities: frozenset[str] = DEFAULT_CAPABILITIES
    skip_verify: bool = False
    ca: tuple[str, ...] = ()
    client: tuple[tuple[str, str], ...] = ()  # (cert, key) pairs; key may be ""
    headers: tuple[tuple[str, str], ...] = ()
    mirror_of: str = ""  # the upstream domain, when this host is a mirror

    @property
    def base(self) -> str:
        return f"{self.scheme}://{self.netloc}{self.path}"

    @property
    def hostname(self) -> str:
        return urlsplit(f"//{self.netloc}").hostname or self.netloc

    def url(self, path: str) -> str:
        """`<base>/<path>`; mirrors get `?ns=<upstream>` as containerd adds."""
        out = f"{self.base}/{path}"
        return f"{out}?ns={self.mirror_of}" if self.mirror_of else out


@dataclass
class HostsConfig:
    """Reads host configuration from `config_dir` (None: none configured)."""

    config_dir: str | None = None
    plain_http_localhost: bool = True
    _cache: dict[str, tuple[float, list[Host]]] = field(default_factory=dict, repr=False)

    def hosts(self, domain: str) -> list[Host]:
        """The hosts to try for `domain`, in order: mirrors, then the server."""
        path = self._hosts_file(domain)
        if path is None:
            return [self._default_server(domain)]
        mtime = path.stat().st_mtime
        cached = self._cache.get(domain)
        if cached and cached[0] == mtime:
            return cached[1]
        hosts = self._parse(domain, path)
        self._cache[domain] = (mtime, hosts)
        return hosts

    def _hosts_file(self, domain: str) -> Path | None:
        if not self.config_dir:
            return None
        root = Path(self.config_dir)
        for name in [*_dir_names(domain), "_default"]:
            candidate = root / name / "hosts.toml"
            if candidate.is_file():
                return candidate
        return None

    def _default_server(self, domain: str) -> Host:
        if domain == DOCKER_HUB:
            return _host_from_url(DOCKER_HUB_SERVER, {}, Path("."), "")
        hostname = urlsplit(f"//{domain}").hostname or domain
        plain = self.plain_http_localhost and hostname in LOCALHOSTS
        return Host(
            scheme="http" if plain else "https",
            netloc=domain,
            capabilities=frozenset({"pull", "resolve", "push"}),
        )

    def _parse(self, domain: str, path: Path) -> list[Host]:
        try:
            doc = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise InvalidArgument(f"registry host config {path}: {err}") from err
        hosts = []
        for url, table in (doc.get("host") or {}).items():
            hosts.append(_host_from_url(_with_scheme(url), table, path.parent, domain))
        server = doc.get("server")
        if server:
            top = {k: v for k, v in doc.items() if k not in ("host", "server")}
            top.setdefault("capabilities", ["pull", "resolve", "push"])
            hosts.append(_host_from_url(_with_scheme(server), top, path.parent, ""))
        else:
            hosts.append(self._default_server(domain))
        return hosts


def _dir_names(domain: str) -> list[str]:
    """The directory names of `domain` (an IPv6 literal also without its brackets)."""
    names = [domain]
    if domain.startswith("[") and "]" in domain:  # IPv6 literals
        names.append(domain.replace("[", "").replace("]", ""))
    return names


def _with_scheme(url: str) -> str:
    return url if "://" in url else f"https://{url}"


def _paths(value: Any, base: Path) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else list(value or [])
    return tuple(str(base / item) if not Path(item).is_absolute() else item for item in items)


def _host_from_url(url: str, table: dict[str, Any], base: Path, mirror_of: str) -> Host:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidArgument(f"registry host {url!r}: want http(s)://host[:port][/path]")
    path = parts.path.rstrip("/")
    if not table.get("override_path", False):
        path = path + "/v2" if not path.endswith("/v2") else path
    clients: list[tuple[str, str]] = []
    raw_client = table.get("client") or []
    for item in [raw_client] if isinstance(raw_client, str) else raw_client:
        cert, key = (item, "") if isinstance(item, str) else (item[0], item[1] if item[1:] else "")
        clients.append((_paths(cert, base)[0], _paths(key, base)[0] if key else ""))
    headers = []
    for key, value in (table.get("header") or {}).items():
        for item in [value] if isinstance(value, str) else value:
            headers.append((str(key), str(item)))
    return Host(
        scheme=parts.scheme,
        netloc=parts.netloc,
        path=path,
        capabilities=frozenset(table.get("capabilities", DEFAULT_CAPABILITIES)),
        skip_verify=bool(table.get("skip_verify", False)),
        ca=_paths(table.get("ca"), base),
        client=tuple(clients),
        headers=tuple(headers),
        mirror_of=mirror_of,
    )
