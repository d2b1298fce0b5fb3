"""The artefact fetcher against a real HTTPS server on 127.0.0.1: what it fetches, and
every address, scheme, redirect, size, time and type it refuses."""

from __future__ import annotations

import socket
import time

import pytest
from vision_validator.fetch import (
    ArtifactFetcher,
    FetchFailedError,
    FetchRefusedError,
    FetchTimeoutError,
    address_problem,
)
from vv_support import ArtifactServer, Route, make_certificate, png

# The addresses the issue names, and the other ranges the fetcher refuses.
REFUSED = [
    "10.0.0.1",
    "10.255.255.254",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.0.1",
    "192.168.255.254",
    "127.0.0.1",
    "127.1.2.3",
    "::1",
    "169.254.169.254",
    "169.254.0.1",
    "fe80::1",
    "fd00:ec2::254",
    "fc00::1",
    "0.0.0.0",
    "::",
    "100.64.0.1",
    "100.127.255.254",
    "224.0.0.1",
    "ff02::1",
    "240.0.0.1",
    "255.255.255.255",
    "::ffff:10.0.0.1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def server(certificate):
    running = ArtifactServer(*certificate)
    yield running
    running.close()


def resolver_of(table: dict[str, list[str]], calls: list[str] | None = None):
    def resolve(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    return resolve


@pytest.fixture
def fetcher(certificate):
    """Allowed to reach 127.0.0.1 (the test server) and trusting its certificate."""

    def make(**kwargs) -> ArtifactFetcher:
        kwargs.setdefault("allow_addresses", ["127.0.0.1"])
        kwargs.setdefault("ca_file", str(certificate[0]))
        return ArtifactFetcher(**kwargs)

    return make


@pytest.mark.parametrize("address", REFUSED)
def test_every_internal_address_is_refused(address):
    from ipaddress import ip_address

    assert address_problem(ip_address(address)) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700::6810:84e5"])
def test_public_addresses_pass(address):
    from ipaddress import ip_address

    assert address_problem(ip_address(address)) is None


@pytest.mark.parametrize("address", REFUSED)
def test_a_url_naming_an_internal_address_is_refused_before_any_connection(address):
    host = f"[{address}]" if ":" in address else address
    fetcher = ArtifactFetcher(resolver=resolver_of({}))

    with pytest.raises(FetchRefusedError, match="resolves to"):
        fetcher.fetch(f"https://{host}/latest/meta-data/")


@pytest.mark.parametrize("address", REFUSED)
def test_a_name_resolving_to_an_internal_address_is_refused(address):
    fetcher = ArtifactFetcher(resolver=resolver_of({"artifacts.example.com": [address]}))

    with pytest.raises(FetchRefusedError, match=r"artifacts\.example\.com resolves to"):
        fetcher.fetch("https://artifacts.example.com/step-1.png")


@pytest.mark.parametrize("host", ["2130706433", "0x7f.1", "0177.0.0.1", "127.1", "2852039166"])
def test_numeric_host_forms_are_judged_by_the_address_they_resolve_to(host):
    # inet_aton's forms (decimal, hex, octal, short) are not IP literals to ipaddress, but
    # the system resolver turns them into 127.0.0.1 or 169.254.169.254: that is checked.
    with pytest.raises(FetchRefusedError, match=r"resolves to (127\.0\.0\.1|169\.254\.169\.254)"):
        ArtifactFetcher().fetch(f"https://{host}/latest/meta-data/")


def test_a_name_with_one_internal_address_among_public_ones_is_refused():
    table = {"mixed.example.com": ["93.184.215.14", "169.254.169.254"]}

    with pytest.raises(
        FetchRefusedError, match=r"169\.254\.169\.254: the instance metadata service"
    ):
        ArtifactFetcher(resolver=resolver_of(table)).fetch("https://mixed.example.com/a.png")


def test_127_0_0_1_is_refused_without_the_test_allowance(server, certificate):
    url = server.image("/plain.png")

    with pytest.raises(FetchRefusedError, match=r"127\.0\.0\.1: loopback"):
        ArtifactFetcher(ca_file=str(certificate[0])).fetch(url)


@pytest.mark.parametrize(
    "url",
    ["http://93.184.215.14/a.png", "ftp://example.com/a.png", "file:///etc/passwd", "//x/a"],
)
def test_only_https_is_fetched(url):
    with pytest.raises(FetchRefusedError, match="only https URLs"):
        ArtifactFetcher(resolver=resolver_of({})).fetch(url)


def test_an_image_is_fetched_over_https_with_the_certificate_verified(server, fetcher):
    data = png(10, 10)
    url = server.image("/one.png", data)

    fetched = fetcher().fetch(url)

    assert (fetched.url, fetched.content_type, fetched.body) == (url, "image/png", data)


def test_the_connection_goes_to_the_address_resolved_once_with_the_name_as_sni_and_host(
    server, fetcher
):
    # artifacts.test exists only in this resolver: the socket can only have gone to the
    # address it returned, and TLS verified the certificate for the name.
    server.image("/named.png")
    calls: list[str] = []
    resolve = resolver_of({"artifacts.test": ["127.0.0.1"]}, calls)

    fetched = fetcher(resolver=resolve).fetch(f"https://artifacts.test:{server.port}/named.png")

    assert fetched.body
    assert calls == ["artifacts.test"]
    assert server.requests[-1][1]["Host"] == f"artifacts.test:{server.port}"


def test_a_certificate_for_another_name_fails(server, fetcher):
    server.image("/named.png")
    resolve = resolver_of({"other.example.com": ["127.0.0.1"]})

    with pytest.raises(FetchFailedError, match="TLS"):
        fetcher(resolver=resolve).fetch(f"https://other.example.com:{server.port}/named.png")


def test_an_untrusted_certificate_fails(server):
    url = server.image("/one.png")

    with pytest.raises(FetchFailedError, match="TLS"):
        ArtifactFetcher(allow_addresses=["127.0.0.1"]).fetch(url)


def test_a_relative_redirect_is_followed(server, fetcher):
    server.image("/final.png")
    server.routes["/moved"] = Route(status=302, headers={"Location": "/final.png"})

    fetched = fetcher().fetch(server.url("/moved"))

    assert fetched.url == server.url("/final.png")


@pytest.mark.parametrize(
    "target",
    [
        "https://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "https://10.0.0.1/internal",
        "https://[::1]/x",
        "https://[fd00:ec2::254]/latest",
        "http://93.184.215.14/a.png",
    ],
)
def test_a_redirect_to_a_refused_url_is_refused(server, fetcher, target):
    server.routes["/evil"] = Route(status=301, headers={"Location": target})

    with pytest.raises(FetchRefusedError):
        fetcher().fetch(server.url("/evil"))


def test_redirects_are_limited(server, fetcher):
    server.routes["/loop"] = Route(status=307, headers={"Location": "/loop"})

    with pytest.raises(FetchRefusedError, match="more than 2 redirects"):
        fetcher(max_redirects=2).fetch(server.url("/loop"))
    assert sum(path == "/loop" for path, _ in server.requests) >= 3


def test_a_declared_oversize_body_is_refused(server, fetcher):
    server.routes["/big.png"] = Route(body=b"x" * 5000, headers={"Content-Type": "image/png"})

    with pytest.raises(FetchRefusedError, match="larger than 1024 bytes"):
        fetcher(max_bytes=1024).fetch(server.url("/big.png"))


def test_an_undeclared_oversize_body_is_stopped_while_streaming(server, fetcher):
    server.routes["/stream.png"] = Route(
        body=b"x" * 300_000, headers={"Content-Type": "image/png"}, declare_length=False
    )

    with pytest.raises(FetchRefusedError, match="larger than 2048 bytes"):
        fetcher(max_bytes=2048).fetch(server.url("/stream.png"))


def test_a_body_at_the_limit_is_read(server, fetcher):
    server.routes["/exact.png"] = Route(
        body=b"y" * 2048, headers={"Content-Type": "image/png"}, declare_length=False
    )

    assert len(fetcher(max_bytes=2048).fetch(server.url("/exact.png")).body) == 2048


def test_a_slow_server_is_stopped_at_the_time_limit(server, fetcher):
    server.routes["/slow.png"] = Route(
        body=b"z" * 200, headers={"Content-Type": "image/png"}, trickle=0.05
    )
    started = time.monotonic()

    with pytest.raises(FetchTimeoutError, match="longer than 1 s"):
        fetcher(timeout=1.0).fetch(server.url("/slow.png"))
    assert time.monotonic() - started < 2.5


def test_a_server_trickling_its_headers_is_stopped_at_the_time_limit(server, fetcher):
    # Every read gets a byte well within the time left: only the deadline stops it.
    server.routes["/drip"] = Route(trickle_headers=0.02)
    started = time.monotonic()

    with pytest.raises(FetchTimeoutError, match="longer than 1 s"):
        fetcher(timeout=1.0).fetch(server.url("/drip"))
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize("content_type", ["text/html", "application/octet-stream", ""])
def test_a_content_type_not_accepted_is_refused(server, fetcher, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    server.routes["/page"] = Route(body=b"<html>", headers=headers)

    with pytest.raises(FetchRefusedError, match="content type"):
        fetcher().fetch(server.url("/page"))


def test_a_body_shorter_than_its_content_length_is_a_fetch_failure(server, fetcher):
    server.routes["/short.png"] = Route(
        body=b"x" * 100, headers={"Content-Type": "image/png", "Content-Length": "5000"},
        declare_length=False,
    )  # fmt: skip

    with pytest.raises(FetchFailedError, match="closed before the whole body"):
        fetcher().fetch(server.url("/short.png"))


@pytest.mark.parametrize("status", [403, 404, 500])
def test_an_error_status_is_a_fetch_failure(server, fetcher, status):
    server.routes["/err"] = Route(status=status, body=b"no")

    with pytest.raises(FetchFailedError, match=f"answered {status}"):
        fetcher().fetch(server.url("/err"))


def test_a_closed_port_is_a_fetch_failure(fetcher):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(FetchFailedError, match="cannot fetch"):
        fetcher().fetch(f"https://127.0.0.1:{port}/a.png")


def test_a_resolver_that_hangs_is_stopped_at_the_time_limit():
    def hanging(host: str, port: int) -> list[str]:
        time.sleep(3)
        return ["93.184.215.14"]

    started = time.monotonic()
    with pytest.raises(FetchTimeoutError, match="longer than 1 s"):
        ArtifactFetcher(resolver=hanging, timeout=1.0).fetch("https://slow-dns.example.com/a")
    assert time.monotonic() - started < 1.8


def test_a_name_that_does_not_resolve_is_refused():
    with pytest.raises(FetchRefusedError, match="does not resolve"):
        ArtifactFetcher(resolver=resolver_of({})).fetch("https://nowhere.invalid/a.png")


# getaddrinfo IDNA-encodes a name before any query and raises UnicodeError (not gaierror)
# for an empty label or one over 63 characters; urlsplit/urljoin raise ValueError for an
# unclosed IPv6 bracket. Each is the caller's bad URL: refused, never an unhandled error.
MALFORMED = [
    "https://a..b/x.png",
    "https://.example.com/x.png",
    f"https://{'a' * 64}.example.com/x.png",
    "https://h.example.com:99999/x.png",
    "https://h.example.com:-1/x.png",
    "https://[::1/x.png",
    "https://user:pw@h.example.com/x.png",
    f"https://{'a' * 60}.{'b' * 60}.{'c' * 60}.{'d' * 60}.{'e' * 60}.com/x.png",
]


@pytest.mark.parametrize("url", MALFORMED)
def test_a_malformed_url_is_refused_with_the_system_resolver(url):
    with pytest.raises(FetchRefusedError):
        ArtifactFetcher(timeout=3).fetch(url)


@pytest.mark.parametrize("target", MALFORMED)
def test_a_redirect_to_a_malformed_url_is_refused(server, fetcher, target):
    server.routes["/bad-location"] = Route(status=302, headers={"Location": target})

    with pytest.raises(FetchRefusedError):
        fetcher().fetch(server.url("/bad-location"))
