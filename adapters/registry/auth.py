"""Registry authentication: credentials from the CRI AuthConfig, challenges, token fetches.

Supports anonymous access, Basic, and the Bearer token flow from `WWW-Authenticate`
(realm/service/scope): a GET to the realm with Basic credentials (or none), an OAuth2
`refresh_token` POST for an identity token, or a registry token used as is. Credentials and
tokens are never logged.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
import time
from dataclasses import dataclass

import httpx

from domain.model import AuthConfig
from ports.registry import RegistryAuthError

log = logging.getLogger(__name__)

_PARAM = re.compile(r'\s*([a-zA-Z_][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')
CLIENT_ID = "hexcri"


@dataclass(frozen=True)
class Credentials:
    username: str = ""
    password: str = ""
    identity_token: str = ""
    registry_token: str = ""

    @property
    def empty(self) -> bool:
        return not (self.username or self.password or self.identity_token or self.registry_token)

    def __repr__(self) -> str:  # never print secrets
        return f"Credentials(username={self.username!r}, ...)"


def credentials_for(auth: AuthConfig | None, host: str, reference_domain: str) -> Credentials:
    """The credentials `auth` gives for `host`.

    They apply to the reference's own registry, or to the host named by `server_address`
    when the AuthConfig carries one (as containerd's CRI plugin does); other hosts (mirrors)
    are asked anonymously.
    """
    if auth is None:
        return Credentials()
    target = reference_domain
    if auth.server_address:
        server = auth.server_address
        target = httpx.URL(server if "://" in server else f"//{server}").netloc.decode()
    if host != target:
        return Credentials()
    username, password = auth.username, auth.password
    if auth.auth:
        try:
            decoded = base64.b64decode(auth.auth, validate=False).decode()
        except (binascii.Error, UnicodeDecodeError) as err:
            raise RegistryAuthError("the auth field of the AuthConfig is not base64") from err
        username, sep, password = decoded.partition(":")
        if not sep:
            raise RegistryAuthError("the auth field of the AuthConfig is not user:password")
    return Credentials(username, password, auth.identity_token, auth.registry_token)


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "basic" or "bearer"
    params: dict[str, str]


def parse_challenges(headers: httpx.Headers) -> list[Challenge]:
    """The challenges of every `WWW-Authenticate` header."""
    out = []
    for value in headers.get_list("www-authenticate"):
        scheme, _, rest = value.strip().partition(" ")
        params = {m[1].lower(): (m[2] if m[2] is not None else m[3]) for m in _PARAM.finditer(rest)}
        params = {k: v.replace('\\"', '"') for k, v in params.items()}
        out.append(Challenge(scheme.lower(), params))
    return out


def basic_header(creds: Credentials) -> str:
    raw = f"{creds.username}:{creds.password}".encode()
    return "Basic " + base64.b64encode(raw).decode()


@dataclass
class _Token:
    value: str
    expires: float


class Authorizer:
    """Holds the Authorization header per (host, scope, credentials) and answers challenges.

    The credentials are part of the key: a header earned with one pull's AuthConfig is never
    sent for another pull that gave other credentials (or none), so every pull is authorised
    by its own credentials, as the registry would judge them.
    """

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client
        self._headers: dict[tuple[str, str, Credentials], str] = {}
        self._tokens: dict[tuple[str, str, str, Credentials], _Token] = {}
        self._locks: dict[tuple[str, str, Credentials], asyncio.Lock] = {}

    def header(self, host: str, scope: str, creds: Credentials) -> str | None:
        return self._headers.get((host, scope, creds))

    async def answer(
        self, host: str, scope: str, response: httpx.Response, creds: Credentials, failed: str
    ) -> str:
        """Find the Authorization header for a 401 `response`; `failed` is the header that
        was refused (empty if none was sent). Raises RegistryAuthError when there is none."""
        key = (host, scope, creds)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            current = self._headers.get(key)
            if current and current != failed:
                return current  # another request already authenticated
            header = await self._answer(host, scope, response, creds, failed)
            self._headers[key] = header
            return header

    async def _answer(
        self, host: str, scope: str, response: httpx.Response, creds: Credentials, failed: str
    ) -> str:
        challenges = parse_challenges(response.headers)
        for challenge in challenges:
            if challenge.scheme == "bearer" and "realm" in challenge.params:
                return await self._bearer(host, scope, challenge, creds, failed)
        for challenge in challenges:
            if challenge.scheme == "basic":
                if not creds.username and not creds.password:
                    raise RegistryAuthError(f"registry {host} requires credentials")
                header = basic_header(creds)
                if header == failed:
                    raise RegistryAuthError(f"registry {host} refused the credentials given")
                return header
        raise RegistryAuthError(f"registry {host} answered 401 without a usable challenge")

    async def _bearer(
        self, host: str, scope: str, challenge: Challenge, creds: Credentials, failed: str
    ) -> str:
        if creds.registry_token:
            header = f"Bearer {creds.registry_token}"
            if header == failed:
                raise RegistryAuthError(f"registry {host} refused the registry token given")
            return header
        realm = challenge.params["realm"]
        service = challenge.params.get("service", "")
        scopes = [s for s in {scope, challenge.params.get("scope", "")} if s]
        key = (realm, service, " ".join(sorted(scopes)), creds)
        cached = self._tokens.get(key)
        if cached and cached.expires > time.monotonic() and f"Bearer {cached.value}" != failed:
            return f"Bearer {cached.value}"
        token = await self._fetch_token(host, realm, service, scopes, creds)
        self._tokens[key] = token
        return f"Bearer {token.value}"

    async def _fetch_token(
        self, host: str, realm: str, service: str, scopes: list[str], creds: Credentials
    ) -> _Token:
        if creds.identity_token:
            form = {
                "grant_type": "refresh_token",
                "refresh_token": creds.identity_token,
                "client_id": CLIENT_ID,
                "service": service,
                "scope": " ".join(scopes),
            }
            resp = await self._client.post(realm, data=form)
        else:
            params = httpx.QueryParams([("scope", s) for s in scopes])
            if service:
                params = params.add("service", service)
            headers = {}
            if creds.username or creds.password:
                headers["Authorization"] = basic_header(creds)
            resp = await self._client.get(realm, params=params, headers=headers)
        if resp.status_code in (401, 403):
            what = "credentials" if not creds.empty else "anonymous access"
            raise RegistryAuthError(
                f"registry {host}: the token service {realm} refused the {what} "
                f"({resp.status_code})"
            )
        if resp.status_code != 200:
            raise RegistryAuthError(
                f"registry {host}: the token service {realm} answered {resp.status_code}"
            )
        try:
            body = resp.json()
            value = body.get("token") or body.get("access_token")
            expires_in = int(body.get("expires_in") or 60)
        except (ValueError, AttributeError) as err:
            raise RegistryAuthError(f"registry {host}: bad token response from {realm}") from err
        if not value:
            raise RegistryAuthError(f"registry {host}: the token service {realm} sent no token")
        log.debug("got a registry token for %s (service %s)", host, service)
        return _Token(str(value), time.monotonic() + max(expires_in - 10, 10))
