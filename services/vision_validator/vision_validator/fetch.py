"""The artefact fetcher: HTTPS GETs that cannot be turned against the VPC (no SSRF).

``artifactsUrl`` comes from the caller, and the task runs inside the VPC, next to the
instance metadata service and private endpoints. So every URL the fetcher follows, the
first and each redirect's, is checked the same way:

- the scheme is ``https`` (an ``http`` URL or redirect is refused);
- the host name is resolved **once**; every address it resolves to must be public (not
  private, loopback, link-local, the metadata addresses 169.254.169.254 and fd00:ec2::254,
  unspecified, multicast, reserved, CGNAT 100.64.0.0/10, nor an IPv4-mapped, 6to4 or
  NAT64 IPv6 form of one), else the URL is refused;
- the TCP connection goes to that resolved address itself, with the URL's host as TLS SNI,
  ``Host`` header and the name the certificate is verified against, so a DNS answer that
  changes between the check and the connection (rebinding) cannot redirect it;
- redirects (301, 302, 303, 307, 308) are followed by hand, at most ``max_redirects``;
- the body is streamed and stopped past ``max_bytes``; the whole fetch, redirects
  included, must finish within ``timeout`` seconds (each read waits at most what is left);
- the content type must be one of ``content_types``.

``allow_addresses`` and ``ca_file`` exist for the tests, which serve artefacts from
127.0.0.1 over HTTPS with a certificate they generate; the service's settings never set
them (no environment variable reaches them).
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]

REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_METADATA = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
_CHUNK = 64 * 1024


class FetchRefusedError(Exception):
    """The URL, an address it resolves to, a redirect, the size or the content type is not
    acceptable: the caller's request is at fault (the service answers 422)."""


class FetchFailedError(Exception):
    """The artefact server could not be reached or answered an error (the service: 502)."""


class FetchTimeoutError(FetchFailedError):
    """The fetch did not finish within its time limit (the service: 504)."""


@dataclass(frozen=True)
class Fetched:
    url: str
    """The URL the body came from (after redirects)."""
    content_type: str
    """The media type, lower case, without parameters."""
    body: bytes


def address_problem(address: IPAddress) -> str | None:
    """Why ``address`` may not be fetched from, or None for a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            problem = address_problem(embedded)
            return f"embeds {embedded}, which is {problem}" if problem else None
    if address in _METADATA:
        return "the instance metadata service"
    for attribute, words in (
        ("is_unspecified", "unspecified"),
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_private", "private"),
        ("is_reserved", "reserved"),
    ):
        if getattr(address, attribute):
            return words
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "shared address space (CGNAT 100.64.0.0/10)"
    if not address.is_global:
        return "not a global address"
    return None


def join_url(base: str, reference: str) -> str:
    """``reference`` (a redirect's Location, a listing's entry) resolved against ``base``,
    or ``FetchRefusedError`` when it is not a URL (urljoin raises ValueError for one)."""
    try:
        return urljoin(base, reference)
    except ValueError as error:
        raise FetchRefusedError(f"not a URL: {error}") from None


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (A and AAAA)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection to a fixed address, with SNI, Host and certificate checks for
    the URL's host name (http.client derives all three from ``host``)."""

    def __init__(self, host: str, port: int, address: str, context: ssl.SSLContext, timeout: float):
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._tls = context

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        try:
            self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)
        except BaseException:
            raw.close()
            raise


def _shut(connection: http.client.HTTPConnection, expired: threading.Event) -> None:
    expired.set()
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed: nothing to stop
            sock.shutdown(socket.SHUT_RDWR)


class ArtifactFetcher:
    """GETs artefacts as the module docstring says. Thread-safe: it holds no connection."""

    def __init__(
        self,
        *,
        max_bytes: int = 10 * 1024 * 1024,
        timeout: float = 15.0,
        max_redirects: int = 3,
        content_types: Collection[str] = ("image/png", "image/jpeg", "image/webp", "image/gif"),
        resolver: Resolver = system_resolver,
        allow_addresses: Collection[str] = (),
        ca_file: str | None = None,
        user_agent: str = "vision-validator/1",
    ) -> None:
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.max_redirects = max_redirects
        self.content_types = frozenset(content_types)
        self._resolve = resolver
        # Test only: addresses accepted although address_problem refuses them.
        self._allowed = frozenset(ipaddress.ip_address(a) for a in allow_addresses)
        self._tls = ssl.create_default_context(cafile=ca_file)
        self._tls.minimum_version = ssl.TLSVersion.TLSv1_2
        self._user_agent = user_agent

    def fetch(
        self,
        url: str,
        content_types: Collection[str] | None = None,
        deadline: float | None = None,
    ) -> Fetched:
        """The body at ``url``, or one of the three ``Fetch*Error``s; within ``timeout``
        seconds, and by ``deadline`` (a ``time.monotonic()`` instant: the request's own
        deadline) when that comes first."""
        accepted = frozenset(content_types) if content_types is not None else self.content_types
        own = time.monotonic() + self.timeout
        deadline = own if deadline is None else min(own, deadline)
        for _ in range(self.max_redirects + 1):
            status, location, content_type, body = self._get(url, deadline, accepted)
            if status not in REDIRECTS:
                return Fetched(url=url, content_type=content_type, body=body)
            if not location:
                raise FetchFailedError(f"redirect {status} without a Location")
            url = join_url(url, location)
        raise FetchRefusedError(f"more than {self.max_redirects} redirects")

    def check_url(self, url: str, deadline: float | None = None) -> tuple[str, int, str, str]:
        """(host, port, path with query, the address to connect to) or ``FetchRefusedError``."""
        try:
            parts = urlsplit(url)
        except ValueError as error:  # an unclosed IPv6 bracket, for one
            raise FetchRefusedError(f"not a URL: {error}") from None
        if parts.scheme != "https":
            raise FetchRefusedError(
                f"only https URLs are fetched (got {parts.scheme or 'none'}://)"
            )
        if not parts.hostname:
            raise FetchRefusedError("the URL has no host")
        if parts.username or parts.password:
            raise FetchRefusedError("the URL carries credentials")
        host = parts.hostname
        try:
            port = parts.port or 443
        except ValueError as error:
            raise FetchRefusedError(f"bad port: {error}") from None
        address = self._pick_address(host, port, deadline)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return host, port, path, address

    def _pick_address(self, host: str, port: int, deadline: float | None) -> str:
        try:
            literal: IPAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            found = [str(literal)]
        else:
            try:
                found = self._resolve_by(host, port, deadline)
            except UnicodeError:
                # getaddrinfo IDNA-encodes the name first; an empty label (a..b) or one
                # longer than 63 characters fails there, before any DNS query.
                raise FetchRefusedError(f"{host[:80]} is not a valid host name") from None
            except socket.gaierror as error:
                if error.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5)):
                    raise FetchRefusedError(f"{host} does not resolve") from None
                raise FetchFailedError(f"cannot resolve {host}: {error}") from None
            if not found:
                raise FetchRefusedError(f"{host} does not resolve")
        # Every address must pass: a name that also resolves to an internal address is
        # refused, whichever of its addresses the connection would have used.
        for text in found:
            address = ipaddress.ip_address(text.split("%", 1)[0])
            if address in self._allowed:
                continue
            if problem := address_problem(address):
                raise FetchRefusedError(f"{host} resolves to {address}: {problem}")
        return found[0]

    def _resolve_by(self, host: str, port: int, deadline: float | None) -> list[str]:
        """The resolver's answer, waited for until ``deadline`` at most: getaddrinfo has no
        timeout of its own, so it runs in a daemon thread that is abandoned when late."""
        if deadline is None:
            return list(self._resolve(host, port))
        outcome: dict[str, object] = {}

        def resolve() -> None:
            try:
                outcome["found"] = list(self._resolve(host, port))
            except BaseException as error:  # handed to the caller below
                outcome["error"] = error

        worker = threading.Thread(target=resolve, daemon=True, name=f"resolve {host}")
        worker.start()
        worker.join(max(0.0, deadline - time.monotonic()))
        if worker.is_alive():
            raise self._timed_out()
        if "error" in outcome:
            raise outcome["error"]  # type: ignore[misc]
        return outcome["found"]  # type: ignore[return-value]

    def _get(self, url: str, deadline: float, accepted: frozenset[str]):
        host, port, path, address = self.check_url(url, deadline)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchTimeoutError(f"the fetch took longer than {self.timeout:g} s")
        connection = _PinnedHTTPSConnection(host, port, address, self._tls, remaining)
        # Each socket operation waits at most the time left, but a server can answer every
        # read just in time (headers one byte at a time): the watchdog shuts the socket at
        # the deadline, which ends any read in progress.
        expired = threading.Event()
        watchdog = threading.Timer(remaining, _shut, (connection, expired))
        watchdog.daemon = True
        watchdog.start()
        try:
            connection.request(
                "GET",
                path,
                headers={"User-Agent": self._user_agent, "Accept": ", ".join(sorted(accepted))},
            )
            response = connection.getresponse()
            if expired.is_set():
                raise self._timed_out()
            if response.status in REDIRECTS:
                return response.status, response.getheader("Location"), "", b""
            if response.status != 200:
                raise FetchFailedError(f"the artefact server answered {response.status}")
            content_type = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
            if content_type not in accepted:
                wanted = ", ".join(sorted(accepted))
                raise FetchRefusedError(
                    f"content type {content_type or 'none'} is not one of {wanted}"
                )
            declared = response.getheader("Content-Length")
            if declared and declared.isdigit() and int(declared) > self.max_bytes:
                raise FetchRefusedError(f"the artefact is larger than {self.max_bytes} bytes")
            body = self._read(connection, response, deadline)
            # The watchdog's shutdown ends a read as if the server had closed: a body cut off
            # that way is a timeout, not a complete artefact.
            if expired.is_set():
                raise self._timed_out()
            return 200, None, content_type, body
        except FetchTimeoutError:
            raise
        except (FetchRefusedError, FetchFailedError):
            if expired.is_set():
                raise self._timed_out() from None
            raise
        except (OSError, http.client.HTTPException) as error:
            if expired.is_set() or isinstance(error, TimeoutError):
                raise self._timed_out() from None
            if isinstance(error, ssl.SSLError):
                raise FetchFailedError(f"TLS with {host} failed: {error.reason or error}") from None
            raise FetchFailedError(f"cannot fetch from {host}: {type(error).__name__}") from None
        finally:
            watchdog.cancel()
            connection.close()

    def _timed_out(self) -> FetchTimeoutError:
        return FetchTimeoutError(f"the fetch took longer than {self.timeout:g} s")

    def _read(self, connection, response: http.client.HTTPResponse, deadline: float) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FetchTimeoutError(f"the fetch took longer than {self.timeout:g} s")
            if connection.sock is not None:
                connection.sock.settimeout(remaining)
            # read1: at most one read of the socket, so a server that trickles bytes
            # cannot hold the loop past the deadline.
            chunk = response.read1(_CHUNK)
            if not chunk:
                if response.length:  # http.client's read1 reports a short body as the end
                    raise FetchFailedError("the artefact server closed before the whole body")
                return b"".join(chunks)
            size += len(chunk)
            if size > self.max_bytes:
                raise FetchRefusedError(f"the artefact is larger than {self.max_bytes} bytes")
            chunks.append(chunk)
