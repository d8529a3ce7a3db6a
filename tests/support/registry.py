"""Local OCI registries for the tests: Debian's docker-registry, plain and with basic auth, and
an in-process front that adds Bearer-token auth or misbehaves on purpose.

`registry` and `auth_registry` are session fixtures running `/usr/bin/docker-registry` on
127.0.0.1 with a free port and storage in a temp dir, stopped by pid at the end.
`token_registry` is an in-process front of `registry` that requires Bearer tokens from its own
token endpoint (the distribution token flow: 401 + `WWW-Authenticate: Bearer realm=…,service=…,
scope=…`, then `GET realm?service=…&scope=…` with Basic credentials). `registry_front` makes
fronts that tamper with blobs, hang, or fail transiently, for the bad-input tests.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.daemon import start_daemon, stop_daemon
from tests.support.oci import OciImage

DOCKER_REGISTRY = "/usr/bin/docker-registry"
USERNAME = "hexcri"
PASSWORD = "s3cret-pa55"
TOKEN_SERVICE = "hexcri-test-registry"
IDENTITY_TOKEN = "hexcri-identity-token-7f3a"  # an OAuth2 refresh token the front accepts

_CONFIG = """\
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}/data
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{port}
  secret: {secret}
{auth}"""

_HTPASSWD_AUTH = """\
auth:
  htpasswd:
    realm: hexcri-test
    path: {root}/htpasswd
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bcrypt_hash(password: str) -> str:
    """A bcrypt hash for an htpasswd file (libxcrypt through `crypt`, else `bcrypt`)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt

        salt = crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)
        hashed = crypt.crypt(password, salt)
        if hashed and hashed.startswith("$2"):
            return hashed
    except ImportError:
        pass
    import bcrypt

    return str(bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode())


@dataclass
class Registry:
    """A docker-registry process on 127.0.0.1."""

    root: Path
    port: int = field(default_factory=free_port)
    credentials: tuple[str, str] | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        """`127.0.0.1:<port>`, the domain of references to this registry."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def log(self) -> Path:
        return self.root / "registry.log"

    def start(self) -> None:
        auth = ""
        if self.credentials:
            user, password = self.credentials
            (self.root / "htpasswd").write_text(f"{user}:{bcrypt_hash(password)}\n")
            auth = _HTPASSWD_AUTH.format(root=self.root)
        config = self.root / "config.yml"
        config.write_text(
            _CONFIG.format(root=self.root, port=self.port, secret=secrets.token_hex(16), auth=auth)
        )
        self.process = start_daemon(
            [DOCKER_REGISTRY, "serve", str(config)], self.log, self._answers, "docker-registry"
        )

    def _answers(self) -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{self.url}/v2/", timeout=2).status_code in (200, 401)
        return False

    def stop(self) -> None:
        stop_daemon(self.process, timeout=10)

    def push(self, image: OciImage, repository: str, tag: str | None = "latest") -> str:
        """Push `image` as `repository:tag`; returns the manifest digest."""
        return image.push(self.url, repository, tag, auth=self.credentials)

    def ref(self, repository: str, tag: str = "", digest: str = "") -> str:
        out = f"{self.host}/{repository}"
        if tag:
            out += f":{tag}"
        if digest:
            out += f"@{digest}"
        return out


@contextlib.contextmanager
def running_registry(credentials: tuple[str, str] | None = None) -> Iterator[Registry]:
    if not os.path.exists(DOCKER_REGISTRY):
        pytest.skip(f"needs {DOCKER_REGISTRY} (apt-get install docker-registry)")
    instance = Registry(Path(tempfile.mkdtemp(prefix="hexcri-reg-")), credentials=credentials)
    try:
        instance.start()
        yield instance
    finally:
        instance.stop()
        shutil.rmtree(instance.root, ignore_errors=True)


@pytest.fixture(scope="session")
def registry() -> Iterator[Registry]:
    """An anonymous docker-registry for the session."""
    with running_registry() as instance:
        yield instance


@pytest.fixture(scope="session")
def auth_registry() -> Iterator[Registry]:
    """A docker-registry requiring Basic auth (`USERNAME`/`PASSWORD`, bcrypt htpasswd)."""
    with running_registry((USERNAME, PASSWORD)) as instance:
        yield instance


# --- an in-process front: token auth and misbehaviour ------------------------------------


_BLOB = re.compile(r"^/v2/(?P<name>.+)/blobs/(?P<digest>[^/]+)$")
_NAME = re.compile(r"^/v2/(?P<name>.+)/(?:blobs|manifests|tags)/")


@dataclass
class FrontBehaviour:
    """What a front does besides proxying; tests mutate it between requests."""

    token_auth: bool = False
    credentials: tuple[str, str] = (USERNAME, PASSWORD)
    tamper: set[str] = field(default_factory=set)  # blob digests served with a flipped byte
    hang: set[str] = field(default_factory=set)  # path substrings answered after `hang_for`
    hang_for: float = 30.0
    stall: set[str] = field(default_factory=set)  # blobs that stop after half their bytes
    fail_first: int = 0  # answer this many requests with 503 first
    redirect_blobs: bool = False  # answer blob GETs with a 307 to the upstream
    keep_alive: bool = True  # False: every answer closes its connection (none idles in a pool)


class Front(ThreadingHTTPServer):
    """A registry front on 127.0.0.1 proxying to `upstream` (in a thread of the test process)."""

    daemon_threads = True

    def __init__(self, upstream: str, behaviour: FrontBehaviour) -> None:
        super().__init__(("127.0.0.1", 0), _FrontHandler)
        self.upstream = upstream.rstrip("/")
        self.behaviour = behaviour
        self.tokens: dict[str, str] = {}  # token → the scope it grants
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # method, path, headers
        self.client = httpx.Client(timeout=60)
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def ref(self, repository: str, tag: str = "", digest: str = "") -> str:
        out = f"{self.host}/{repository}"
        if tag:
            out += f":{tag}"
        if digest:
            out += f"@{digest}"
        return out

    def start(self) -> Front:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self.shutdown()
        self.server_close()
        self.client.close()
        self._thread.join(timeout=10)

    def issue_token(self, scope: str) -> str:
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = scope
        return token


class _FrontHandler(BaseHTTPRequestHandler):
    server: Front
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr
        return

    def end_headers(self) -> None:
        if not self.server.behaviour.keep_alive:
            self.send_header("Connection", "close")
            self.close_connection = True
        super().end_headers()

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        """The OAuth2 form of the token endpoint (`grant_type=refresh_token`)."""
        front = self.server
        length = int(self.headers.get("Content-Length") or 0)
        form = httpx.QueryParams(self.rfile.read(length).decode())
        with front.lock:
            front.requests.append((self.command, self.path, dict(self.headers.items())))
        if self.path.split("?", 1)[0] != "/token":
            return self._reply(405)
        if (
            form.get("grant_type") != "refresh_token"
            or form.get("refresh_token") != IDENTITY_TOKEN
            or form.get("service") != TOKEN_SERVICE
        ):
            return self._reply(401, b'{"details":"bad refresh token"}')
        token = front.issue_token(form.get("scope", ""))
        body = f'{{"access_token":"{token}","expires_in":300}}'.encode()
        return self._reply(200, body, {"Content-Type": "application/json"})

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        front, how = self.server, self.server.behaviour
        path = self.path.split("?", 1)[0]
        with front.lock:
            front.requests.append((self.command, self.path, dict(self.headers.items())))
            failing = how.fail_first > 0
            if failing:
                how.fail_first -= 1
        if path == "/token":
            return self._token()
        if failing:
            return self._reply(503, b'{"errors":[{"code":"UNAVAILABLE"}]}')
        if any(s in self.path for s in how.hang):
            front._stop.wait(how.hang_for)
            return self._reply(503)
        if how.token_auth and path.startswith("/v2/") and not self._authorised(path):
            return None
        self._proxy(path)
        return None

    def _authorised(self, path: str) -> bool:
        front = self.server
        name = _NAME.match(path)
        scope = f"repository:{name['name']}:pull" if name else ""
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            granted = front.tokens.get(auth[7:])
            if granted is not None and (not scope or granted == scope):
                return True
        challenge = f'Bearer realm="{front.url}/token",service="{TOKEN_SERVICE}"'
        if scope:
            challenge += f',scope="{scope}"'
        self._reply(
            401,
            b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
            {"WWW-Authenticate": challenge, "Content-Type": "application/json"},
        )
        return False

    def _token(self) -> None:
        front, how = self.server, self.server.behaviour
        query = httpx.URL(self.path).params
        auth = self.headers.get("Authorization", "")
        expected = base64.b64encode(":".join(how.credentials).encode()).decode()
        if auth != f"Basic {expected}" or query.get("service") != TOKEN_SERVICE:
            return self._reply(401, b'{"details":"bad credentials"}')
        token = front.issue_token(query.get("scope", ""))
        body = f'{{"token":"{token}","expires_in":300}}'.encode()
        return self._reply(200, body, {"Content-Type": "application/json"})

    def _proxy(self, path: str) -> None:
        front, how = self.server, self.server.behaviour
        blob = _BLOB.match(path)
        digest = blob["digest"] if blob else ""
        if blob and how.redirect_blobs and self.command == "GET":
            return self._reply(307, headers={"Location": front.upstream + self.path})
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("accept", "range")}
        with front.client.stream(
            self.command, front.upstream + self.path, headers=headers
        ) as upstream:
            self.send_response(upstream.status_code)
            for key, value in upstream.headers.items():
                if key.lower() not in ("transfer-encoding", "connection", "content-encoding"):
                    self.send_header(key, value)
            self.end_headers()
            if self.command == "HEAD":
                return None
            sent, half = 0, int(upstream.headers.get("content-length", "0")) // 2
            for chunk in upstream.iter_raw():
                if sent == 0 and digest in how.tamper and chunk:
                    chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
                if digest in how.stall and sent + len(chunk) > half:
                    self.wfile.write(chunk[: half - sent])
                    self.wfile.flush()
                    front._stop.wait(how.hang_for)
                    self.close_connection = True
                    return None
                self.wfile.write(chunk)
                sent += len(chunk)
        return None


@pytest.fixture
def registry_front(registry: Registry) -> Iterator[Callable[..., Front]]:
    """Makes fronts of the session `registry`: `registry_front(tamper={digest}, …)`."""
    fronts: list[Front] = []

    def make(**behaviour: Any) -> Front:
        front = Front(registry.url, FrontBehaviour(**behaviour)).start()
        fronts.append(front)
        return front

    try:
        yield make
    finally:
        for front in fronts:
            front.close()


@pytest.fixture(scope="session")
def token_registry(registry: Registry) -> Iterator[Front]:
    """A Bearer-token front of `registry`; its token endpoint takes `USERNAME`/`PASSWORD`."""
    front = Front(registry.url, FrontBehaviour(token_auth=True)).start()
    try:
        yield front
    finally:
        front.close()
