"""An async OCI distribution client (httpx) implementing `ports.registry.Registry`.

Resolves tags and digests with Accept headers for OCI and Docker schema 2 manifests and
indexes, picks the wanted platform from an index, verifies the digest and size of every
manifest and blob, retries transient failures with backoff, streams blobs (resuming with
`Range` on another attempt or the next host), and tries a domain's mirrors in order before
its upstream server.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpcore
import httpx

from adapters.registry import manifests, platforms
from adapters.registry.auth import Authorizer, credentials_for
from adapters.registry.hosts import Host, HostsConfig
from domain.errors import DeadlineExceeded, HexcriError, InvalidArgument, NotFound, Unavailable
from domain.model import AuthConfig
from domain.reference import Reference
from ports.registry import BlobCorrupted, Descriptor, RegistryAuthError, ResolvedImage

log = logging.getLogger(__name__)

TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})

# httpcore reads a response 64 KiB at a time (a class attribute, meant as the knob): blobs
# stream with ~40% less CPU in 1 MiB reads, and a pull here is CPU-bound.
httpcore.AsyncHTTP11Connection.READ_NUM_BYTES = 1 << 20


class RegistryClient:
    """Talks to OCI registries; one instance serves the whole process."""

    def __init__(
        self,
        hosts: HostsConfig | None = None,
        platform: str = "linux/amd64",
        request_timeout: float = 60.0,
        progress_timeout: float = 300.0,
        retries: int = 3,
        backoff: float = 0.2,
        user_agent: str = "hexcri/0.1",
    ) -> None:
        self.hosts = hosts or HostsConfig()
        self.platform = platforms.parse(platform)
        self.request_timeout = request_timeout
        self.progress_timeout = progress_timeout
        self.retries = retries
        self.backoff = backoff
        self.user_agent = user_agent
        self._clients: dict[tuple[Any, ...], tuple[httpx.AsyncClient, Authorizer]] = {}

    async def close(self) -> None:
        clients, self._clients = self._clients, {}
        for client, _ in clients.values():
            await client.aclose()

    # --- the port ---------------------------------------------------------------------------

    async def resolve(self, reference: Reference, auth: AuthConfig | None) -> ResolvedImage:
        target = reference.digest or reference.tag
        if not target:
            raise InvalidArgument(f"image reference {reference} names neither tag nor digest")
        capability = "pull" if reference.digest else "resolve"
        errors: list[HexcriError] = []
        for host in self._hosts(reference, capability):
            try:
                return await asyncio.wait_for(
                    self._resolve_on(host, reference, target, auth), self.request_timeout * 2
                )
            except TimeoutError:
                errors.append(DeadlineExceeded(f"resolving {reference} on {host.netloc} timed out"))
            except HexcriError as err:
                errors.append(err)
            log.info("resolving %s on %s failed: %s", reference, host.netloc, errors[-1])
        raise _pick(errors, reference)

    async def fetch(
        self, reference: Reference, descriptor: Descriptor, auth: AuthConfig | None
    ) -> AsyncIterator[bytes]:
        digest = descriptor.digest
        hasher = manifests.hasher(digest)
        received = 0
        errors: list[HexcriError] = []
        path = f"{reference.path}/blobs/{digest}"
        hosts = self._hosts(reference, "pull")
        for host in hosts:
            for attempt in range(self.retries + 1):
                if attempt:
                    await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
                headers = {"Accept-Encoding": "identity"}
                if received:
                    headers["Range"] = f"bytes={received}-"
                try:
                    resp = await self._send(host, reference, "GET", path, auth, headers)
                    try:
                        skip = received if resp.status_code != 206 else 0
                        async for chunk in resp.aiter_raw():
                            if skip:
                                dropped = min(skip, len(chunk))
                                chunk, skip = chunk[dropped:], skip - dropped
                                if not chunk:
                                    continue
                            received += len(chunk)
                            if received > descriptor.size:
                                raise BlobCorrupted(
                                    f"blob {digest} of {reference}: more than "
                                    f"{descriptor.size} bytes"
                                )
                            hasher.update(chunk)
                            yield chunk
                    finally:
                        await resp.aclose()
                except httpx.TimeoutException as err:
                    errors.append(
                        DeadlineExceeded(
                            f"blob {digest} of {reference}: no progress from {host.netloc} "
                            f"for {self.progress_timeout:g}s ({type(err).__name__})"
                        )
                    )
                    break  # a hung host: try the next one
                except httpx.TransportError as err:
                    errors.append(Unavailable(f"blob {digest} from {host.netloc}: {err!r}"))
                    continue
                except (NotFound, RegistryAuthError, InvalidArgument) as err:
                    errors.append(err)
                    break
                except Unavailable as err:
                    errors.append(err)
                    break
                else:
                    actual = f"{digest.partition(':')[0]}:{hasher.hexdigest()}"
                    if received != descriptor.size:
                        raise BlobCorrupted(
                            f"blob {digest} of {reference}: got {received} bytes, "
                            f"expected {descriptor.size}"
                        )
                    if actual != digest:
                        raise BlobCorrupted(
                            f"blob {digest} of {reference}: content has digest {actual}"
                        )
                    return
                log.info("fetching %s from %s failed: %s", digest, host.netloc, errors[-1])
        raise _pick(errors, reference, f"blob {digest} of")

    # --- resolution -------------------------------------------------------------------------

    async def _resolve_on(
        self, host: Host, reference: Reference, target: str, auth: AuthConfig | None
    ) -> ResolvedImage:
        data, content_type, header_digest = await self._manifest(host, reference, target, auth)
        what = f"manifest {target} of {reference}"
        if reference.digest:
            manifests.verify(data, reference.digest, what)
            digest = reference.digest
        else:
            digest = header_digest or manifests.digest_of(data)
            manifests.verify(data, digest, what)
        body = manifests.load(data, what)
        media_type = manifests.media_type_of(content_type, body)
        documents = {digest: data}
        index: Descriptor | None = None
        if media_type in manifests.INDEXES:
            index = Descriptor(media_type=media_type, digest=digest, size=len(data))
            chosen = platforms.select(manifests.index_entries(body, what), self.platform)
            if chosen is None:
                wanted = "/".join(p for p in self.platform if p)
                raise NotFound(f"image {reference} has no manifest for platform {wanted}")
            what = f"manifest {chosen.digest} of {reference}"
            data, content_type, _ = await self._manifest(host, reference, chosen.digest, auth)
            manifests.verify(data, chosen, what)
            body = manifests.load(data, what)
            media_type = manifests.media_type_of(content_type, body)
            if media_type not in manifests.MANIFESTS:
                raise InvalidArgument(f"{what}: unsupported media type {media_type!r}")
            manifest = chosen.model_copy(update={"media_type": media_type})
            documents[chosen.digest] = data
        elif media_type in manifests.MANIFESTS:
            manifest = Descriptor(media_type=media_type, digest=digest, size=len(data))
        else:
            raise InvalidArgument(f"{what}: unsupported media type {media_type!r}")
        config, layers = manifests.manifest_parts(body, what)
        return ResolvedImage(
            name=reference.repository,
            digest=digest,
            index=index,
            manifest=manifest,
            config=config,
            layers=layers,
            documents=documents,
        )

    async def _manifest(
        self, host: Host, reference: Reference, target: str, auth: AuthConfig | None
    ) -> tuple[bytes, str, str]:
        """Body, Content-Type and Docker-Content-Digest of a manifest (size-capped)."""
        path = f"{reference.path}/manifests/{target}"
        headers = {"Accept": manifests.ACCEPT}
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                resp = await self._send(host, reference, "GET", path, auth, headers)
                try:
                    declared = int(resp.headers.get("content-length") or 0)
                    if declared > manifests.MAX_MANIFEST_BYTES:
                        raise InvalidArgument(f"manifest {target} of {reference} is too large")
                    body = bytearray()
                    async for chunk in resp.aiter_bytes():
                        body += chunk
                        if len(body) > manifests.MAX_MANIFEST_BYTES:
                            raise InvalidArgument(f"manifest {target} of {reference} is too large")
                    return (
                        bytes(body),
                        resp.headers.get("content-type", ""),
                        resp.headers.get("docker-content-digest", ""),
                    )
                finally:
                    await resp.aclose()
            except httpx.TimeoutException as err:
                raise DeadlineExceeded(
                    f"manifest {target} of {reference}: {host.netloc} did not answer in "
                    f"{self.request_timeout:g}s"
                ) from err
            except httpx.TransportError as err:
                if attempt == self.retries:
                    raise Unavailable(
                        f"manifest {target} of {reference}: {host.netloc}: {err!r}"
                    ) from err
        raise AssertionError("unreachable")

    # --- requests ---------------------------------------------------------------------------

    def _hosts(self, reference: Reference, capability: str) -> list[Host]:
        hosts = [h for h in self.hosts.hosts(reference.domain) if capability in h.capabilities]
        if not hosts:
            raise InvalidArgument(f"no registry host of {reference.domain} can {capability}")
        return hosts

    def _client(self, host: Host) -> tuple[httpx.AsyncClient, Authorizer]:
        key = (host.scheme == "https", host.skip_verify, host.ca, host.client)
        if key not in self._clients:
            verify: ssl.SSLContext | bool = True
            if host.scheme == "https" and (host.skip_verify or host.ca or host.client):
                verify = _ssl_context(host)
            client = httpx.AsyncClient(
                verify=verify,
                follow_redirects=True,
                timeout=httpx.Timeout(
                    self.request_timeout,
                    read=self.progress_timeout,
                ),
                headers={"User-Agent": self.user_agent},
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
            )
            self._clients[key] = (client, Authorizer(client))
        return self._clients[key]

    async def _send(
        self,
        host: Host,
        reference: Reference,
        method: str,
        path: str,
        auth: AuthConfig | None,
        headers: Mapping[str, str],
    ) -> httpx.Response:
        """Send with auth and retries of transient statuses; a 2xx streaming response.

        The caller closes the response. Raises NotFound, RegistryAuthError or Unavailable.
        """
        client, authorizer = self._client(host)
        scope = f"repository:{reference.path}:pull"
        creds = credentials_for(auth, host.netloc, reference.domain)
        url = host.url(path)
        answered = False
        attempt = 0
        while True:
            sent = {**dict(host.headers), **headers}
            authz = authorizer.header(host.netloc, scope, creds)
            if authz:
                sent["Authorization"] = authz
            request = client.build_request(method, url, headers=sent)
            resp = await client.send(request, stream=True)
            status = resp.status_code
            if 200 <= status < 300:
                return resp
            await resp.aread()
            await resp.aclose()
            if status == 401:
                if answered:
                    raise RegistryAuthError(
                        f"registry {host.netloc} refused the credentials for {reference}"
                    )
                answered = True
                await authorizer.answer(host.netloc, scope, resp, creds, authz or "")
                continue
            if status == 403:
                raise RegistryAuthError(f"registry {host.netloc} denied access to {reference}")
            if status == 404:
                _, kind, name = path.rsplit("/", 2)
                raise NotFound(
                    f"image {reference} not found: {host.netloc} has no {kind.rstrip('s')} {name}"
                )
            if status in TRANSIENT_STATUS and attempt < self.retries:
                await asyncio.sleep(self.backoff * 2**attempt)
                attempt += 1
                continue
            raise Unavailable(f"registry {host.netloc} answered {status} for {reference}")


def _ssl_context(host: Host) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    for ca in host.ca:
        ctx.load_verify_locations(cafile=ca)
    for cert, key in host.client:
        ctx.load_cert_chain(cert, key or None)
    if host.skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _pick(errors: list[HexcriError], reference: Reference, what: str = "") -> HexcriError:
    """The error to report when every host failed: the most telling one."""
    for kind in (NotFound, RegistryAuthError, BlobCorrupted, InvalidArgument, DeadlineExceeded):
        for err in errors:
            if isinstance(err, kind):
                return err
    if errors:
        return errors[-1]
    return Unavailable(f"{what} {reference}: no registry host to ask".strip())
