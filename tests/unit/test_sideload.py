"""R13: side-loading by URL, against a fake resolver and HTTP(S) servers on 127.0.0.1 only."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.errors import BadRequest, PayloadTooLarge
from chalicelib.sideload import (
    ACCEPT,
    USER_AGENT,
    FetchFailed,
    InvalidUrl,
    UnsafeUrl,
    fetch,
    is_public_address,
)

BODY = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
LIMIT = 10_000
LOCAL = frozenset({"127.0.0.1"})
NAME = "images.example.test"
DRIP_INTERVAL = 0.1


class FakeResolver:
    """Maps names to address lists and records every lookup; unknown names fail like getaddrinfo."""

    def __init__(self, table: dict[str, list[str]] | None = None) -> None:
        self.table = table or {}
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(self.table[host])


@pytest.fixture(autouse=True)
def connects(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    """Records every outgoing connect and lets only loopback through, so a bug cannot reach out."""
    attempts: list[tuple[str, int]] = []
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> None:
        attempts.append((address[0], address[1]))
        if not ipaddress.ip_address(address[0]).is_loopback:
            raise ConnectionRefusedError("blocked by the test: only loopback is reachable")
        real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    yield attempts
    # A test that provokes a blocked attempt on purpose clears the list after checking it.
    assert all(ipaddress.ip_address(host).is_loopback for host, _ in attempts), attempts


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[Message] = []
        self.sni: list[str | None] = []

    def server_bind(self) -> None:
        # HTTPServer.server_bind would call getfqdn(), a reverse DNS lookup; nothing here may leave the host.
        socketserver.TCPServer.server_bind(self)
        self.server_name = "127.0.0.1"
        self.server_port = self.server_address[1]

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.seen.append(self.headers)
        self.close_connection = True
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        route, _, rest = parts.path.strip("/").partition("/")
        # The client hanging up mid-response is what several tests want it to do.
        with contextlib.suppress(OSError):
            getattr(self, f"route_{route.replace('-', '_')}", self.route_missing)(rest, query)

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _drip(self, data: bytes) -> None:
        for i in range(len(data)):
            self.wfile.write(data[i : i + 1])
            time.sleep(DRIP_INTERVAL)

    def route_missing(self, rest: str, query: dict[str, str]) -> None:
        self._send(404, b"not here", {"Content-Type": "text/plain"})

    def route_(self, rest: str, query: dict[str, str]) -> None:
        self._send(200, BODY)  # no Content-Type on purpose

    def route_img(self, rest: str, query: dict[str, str]) -> None:
        self._send(200, BODY, {"Content-Type": "Image/PNG; charset=binary"})

    def route_hop(self, rest: str, query: dict[str, str]) -> None:
        left = int(rest)
        if left == 0:
            self.route_img(rest, query)
        else:
            self._send(302, headers={"Location": f"http://{self.headers['Host']}/hop/{left - 1}"})

    def route_slow_hop(self, rest: str, query: dict[str, str]) -> None:
        time.sleep(0.3)
        self._send(302, headers={"Location": f"/slow-hop/{rest}"})

    def route_rel(self, rest: str, query: dict[str, str]) -> None:
        self._send(302, headers={"Location": "../img/photo.png"})

    def route_to(self, rest: str, query: dict[str, str]) -> None:
        headers = {"Location": query["location"]} if "location" in query else {}
        self._send(int(query.get("status", "302")), headers=headers)

    def route_sized(self, rest: str, query: dict[str, str]) -> None:
        self._send(200, b"x" * int(rest), {"Content-Type": "image/png"})

    def route_declared_huge(self, rest: str, query: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "10000000")
        self.end_headers()
        self.wfile.write(b"x" * 100)

    def route_chunked_huge(self, rest: str, query: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"x" * 4096
        for _ in range(50):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")

    def route_streamed_huge(self, rest: str, query: dict[str, str]) -> None:
        # No length at all: the body ends when the connection closes.
        self.send_response(200)
        self.send_header("Connection", "close")
        self.end_headers()
        for _ in range(50):
            self.wfile.write(b"x" * 4096)

    def route_short_body(self, rest: str, query: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2000")
        self.end_headers()
        self.wfile.write(b"x" * 10)

    def route_short_chunked(self, rest: str, query: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.write(b"100\r\n" + b"x" * 10)

    def route_drip_body(self, rest: str, query: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "100")
        self.end_headers()
        self._drip(b"x" * 100)

    def route_drip_headers(self, rest: str, query: dict[str, str]) -> None:
        self._drip(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 1\r\n\r\nx")


@contextmanager
def _serving(tls: ssl.SSLContext | None = None) -> Iterator[_Server]:
    server = _Server()
    if tls is not None:
        tls.sni_callback = lambda _sock, name, _ctx: server.sni.append(name)
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def server() -> Iterator[_Server]:
    with _serving() as running:
        yield running


def _url(server: _Server, path: str, host: str = "127.0.0.1", scheme: str = "http") -> str:
    return f"{scheme}://{host}:{server.port}{path}"


def _fetch_local(url: str, **kwargs: Any) -> Any:
    kwargs.setdefault("max_bytes", LIMIT)
    kwargs.setdefault("allow_hosts", LOCAL)
    return fetch(url, **kwargs)


# --- URL validation: nothing here reaches a resolver or a socket --------------------------------

INVALID_URLS = [
    "ftp://images.example.test/a.png",
    "file:///etc/passwd",
    "gopher://images.example.test:70/_x",
    "dict://127.0.0.1:11211/",
    "data:image/png;base64,iVBORw0KGgo=",
    "javascript:alert(1)",
    "",
    "not a url",
    "images.example.test/a.png",
    "//images.example.test/a.png",
    "http://",
    "http:///a.png",
    "https:images.example.test/a.png",
    "http://evil@127.0.0.1/",
    "http://user:pw@images.example.test/",
    "http://images.example.test@127.0.0.1/",
    "http://127.0.0.1\\@images.example.test/",
    "http://images.example.test:99999/",
    "http://images.example.test:0/",
    "http://images.example.test:http/",
    "http://[::1/",
    "http://[v1.fe]/",
    "http://exa mple.test/",
    "http://images.example.test/a\r\nX-Injected: 1",
    "http://images.example.test/\x00",
    "http://%31%32%37.0.0.1/",
    "http://-bad-.test/",
    "http://300.0.0.1/",
    "http://4294967296/",
    "http://08.0.0.1/",
    "http://1.2.3.4.5/",
    "http://" + "a" * 64 + ".test/",
    "http://images.example.test/" + "a" * 3000,
]


@pytest.mark.parametrize("url", INVALID_URLS)
def test_fetch_invalid_url_refused_before_any_lookup(url: str) -> None:
    resolver = FakeResolver({NAME: ["127.0.0.1"]})
    with pytest.raises(InvalidUrl) as caught:
        fetch(url, max_bytes=LIMIT, allow_hosts=LOCAL | {NAME}, resolver=resolver)
    assert caught.value.status == 400
    assert caught.value.message == "Invalid URL"
    assert resolver.calls == []


LITERAL_URLS = [
    "http://127.0.0.1/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0177.0.0.1/",
    "http://0x7f.0.0.1/",
    "http://127.1/",
    "http://127.0.0.1./",
    "http://0/",
    "http://0.0.0.0/",
    "http://10.0.0.5/",
    "http://169.254.169.254/latest/meta-data/",
    "http://0xa9fea9fe/",
    "https://100.64.1.1/",
    "http://224.0.0.1/",
    "http://255.255.255.255/",
    "http://[::1]/",
    "http://[::]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://[fe80::1%25eth0]/",
    "http://[fd00::1]/",
    "http://[ff02::1]/",
    "http://[64:ff9b::a00:5]/",
    "http://[2002:a00:5::1]/",
]


@pytest.mark.parametrize("url", LITERAL_URLS)
def test_fetch_literal_private_address_refused_without_lookup(url: str) -> None:
    # A resolver that would say "public" proves the literal is parsed here, not handed to DNS.
    resolver = FakeResolver({})
    with pytest.raises(UnsafeUrl) as caught:
        fetch(url, max_bytes=LIMIT, resolver=resolver)
    assert caught.value.status == 400
    assert caught.value.message == "That URL is not allowed"
    assert resolver.calls == []


def test_fetch_allow_list_is_an_exact_host_match() -> None:
    with pytest.raises(UnsafeUrl):
        fetch("http://2130706433/", max_bytes=LIMIT, allow_hosts=LOCAL, resolver=FakeResolver())
    with pytest.raises(UnsafeUrl):
        fetch(
            "http://localhost/",
            max_bytes=LIMIT,
            allow_hosts=LOCAL,
            resolver=FakeResolver({"localhost": ["127.0.0.1"]}),
        )


def test_fetch_allow_list_does_not_exempt_the_scheme() -> None:
    with pytest.raises(InvalidUrl):
        fetch("ftp://127.0.0.1/a.png", max_bytes=LIMIT, allow_hosts=LOCAL)


UNSAFE_RESOLUTIONS = [
    ["127.0.0.1"],
    ["10.0.0.5"],
    ["172.16.3.4"],
    ["192.168.1.10"],
    ["169.254.169.254"],
    ["100.64.1.1"],
    ["0.0.0.0"],
    ["224.0.0.1"],
    ["240.0.0.1"],
    ["255.255.255.255"],
    ["192.0.2.10"],
    ["198.18.0.1"],
    ["::1"],
    ["::"],
    ["::ffff:127.0.0.1"],
    ["::ffff:10.0.0.5"],
    ["fd00::1"],
    ["fe80::1"],
    ["ff02::1"],
    ["2001:db8::1"],
    ["64:ff9b::7f00:1"],
    ["2002:7f00:1::1"],
    ["2001:0:4136:e378:8000:63bf:3fff:fdd2"],
    ["93.184.216.34", "10.0.0.5"],
    ["2606:2800:220:1:248:1893:25c8:1946", "::1"],
]


@pytest.mark.parametrize("addresses", UNSAFE_RESOLUTIONS, ids="+".join)
def test_fetch_name_resolving_to_any_private_address_refused(
    addresses: list[str], connects: list[tuple[str, int]]
) -> None:
    resolver = FakeResolver({NAME: addresses})
    with pytest.raises(UnsafeUrl):
        fetch(f"https://{NAME}/a.png", max_bytes=LIMIT, resolver=resolver)
    assert resolver.calls == [(NAME, 443)]
    assert connects == []


@pytest.mark.parametrize("address", [a for group in UNSAFE_RESOLUTIONS if len(group) == 1 for a in group])
def test_is_public_address_refuses_special_ranges(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize(
    "address",
    ["93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"],
)
def test_is_public_address_accepts_public(address: str) -> None:
    assert is_public_address(address)


def test_fetch_public_name_dials_the_vetted_address(connects: list[tuple[str, int]]) -> None:
    # The guard refuses the connect before any packet leaves; what matters is where it was aimed.
    resolver = FakeResolver({NAME: ["93.184.216.34"]})
    with pytest.raises(FetchFailed, match="refused"):
        fetch(f"http://{NAME}/a.png", max_bytes=LIMIT, resolver=resolver)
    assert resolver.calls == [(NAME, 80)]
    assert connects == [("93.184.216.34", 80)]
    connects.clear()


@pytest.mark.parametrize("answer", [[], ["not-an-address"]])
def test_fetch_unusable_resolution_is_bad_request(answer: list[str]) -> None:
    with pytest.raises(FetchFailed, match="could not be resolved"):
        fetch(f"http://{NAME}/", max_bytes=LIMIT, resolver=FakeResolver({NAME: answer}))


def test_fetch_unknown_name_is_bad_request() -> None:
    with pytest.raises(FetchFailed, match="could not be resolved"):
        fetch("http://nowhere.test/", max_bytes=LIMIT, resolver=FakeResolver())


def test_fetch_stalled_resolver_cut_off_by_budget() -> None:
    release = threading.Event()

    def stalled(host: str, port: int) -> list[str]:
        release.wait(5)
        return ["127.0.0.1"]

    started = time.monotonic()
    try:
        with pytest.raises(FetchFailed, match="too long"):
            fetch(f"http://{NAME}/", max_bytes=LIMIT, timeout=0.3, resolver=stalled)
    finally:
        release.set()
    assert time.monotonic() - started < 1.0


# --- Fetching from the local server -------------------------------------------------------------


@pytest.mark.slow
def test_fetch_returns_bytes_type_and_filename(server: _Server) -> None:
    got = _fetch_local(_url(server, "/img/photo%20one.png?size=large#top"))
    assert got.data == BODY
    assert got.content_type == "image/png"
    assert got.filename == "photo one.png"
    assert got.final_url == _url(server, "/img/photo%20one.png?size=large")
    sent = server.seen[0]
    assert sent["User-Agent"] == USER_AGENT
    assert sent["Accept"] == ACCEPT
    assert sent["Accept-Encoding"] == "identity"
    assert sent["Cookie"] is None and sent["Authorization"] is None


@pytest.mark.slow
def test_fetch_without_type_or_name(server: _Server) -> None:
    got = _fetch_local(_url(server, "/"))
    assert (got.data, got.content_type, got.filename) == (BODY, None, None)


@pytest.mark.slow
def test_fetch_connects_to_checked_address_once_per_hop(server: _Server) -> None:
    resolver = FakeResolver({NAME: ["127.0.0.1"]})
    got = fetch(
        _url(server, "/hop/2", host=NAME), max_bytes=LIMIT, allow_hosts=frozenset({NAME}), resolver=resolver
    )
    assert got.data == BODY
    assert resolver.calls == [(NAME, server.port)] * 3
    assert [m["Host"] for m in server.seen] == [f"{NAME}:{server.port}"] * 3


@pytest.mark.slow
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_fetch_follows_each_redirect_status(server: _Server, status: int) -> None:
    got = _fetch_local(_url(server, f"/to?status={status}&location=/img/moved.png"))
    assert got.filename == "moved.png"
    assert got.final_url == _url(server, "/img/moved.png")


@pytest.mark.slow
def test_fetch_relative_redirect_resolved_against_current_url(server: _Server) -> None:
    got = _fetch_local(_url(server, "/rel/start"))
    assert got.final_url == _url(server, "/img/photo.png")
    assert [m["Host"] for m in server.seen] == [f"127.0.0.1:{server.port}"] * 2


@pytest.mark.slow
def test_fetch_redirect_chain_limit(server: _Server) -> None:
    assert _fetch_local(_url(server, "/hop/3")).data == BODY
    server.seen.clear()
    with pytest.raises(FetchFailed, match="too many"):
        _fetch_local(_url(server, "/hop/4"))
    assert len(server.seen) == 4
    with pytest.raises(FetchFailed, match="too many"):
        _fetch_local(_url(server, "/hop/1"), max_redirects=0)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("location", "table"),
    [
        ("http://internal.test/secret", {"internal.test": ["10.0.0.5"]}),
        ("http://metadata.test/latest/meta-data/", {"metadata.test": ["169.254.169.254"]}),
        ("http://169.254.169.254/latest/meta-data/", {}),
        ("http://[::1]:{port}/img/a.png", {}),
        ("http://localhost:{port}/img/a.png", {"localhost": ["127.0.0.1"]}),
    ],
)
def test_fetch_redirect_to_private_address_refused(
    server: _Server, location: str, table: dict[str, list[str]]
) -> None:
    target = location.format(port=server.port)
    with pytest.raises(UnsafeUrl):
        _fetch_local(_url(server, f"/to?location={target}"), resolver=FakeResolver(table))
    assert len(server.seen) == 1


@pytest.mark.slow
def test_fetch_redirect_to_bad_scheme_refused(server: _Server) -> None:
    with pytest.raises(InvalidUrl, match="redirected"):
        _fetch_local(_url(server, "/to?location=file:///etc/passwd"))


@pytest.mark.slow
def test_fetch_redirect_without_location_is_bad_request(server: _Server) -> None:
    with pytest.raises(FetchFailed, match=r"\(HTTP 302\)"):
        _fetch_local(_url(server, "/to?status=302"))


@pytest.mark.slow
@pytest.mark.parametrize("status", [404, 500])
def test_fetch_error_status_is_bad_request(server: _Server, status: int) -> None:
    path = "/missing.png" if status == 404 else "/to?status=500"
    with pytest.raises(BadRequest) as caught:
        _fetch_local(_url(server, path))
    assert caught.value.status == 400
    assert caught.value.message == f"The URL could not be fetched (HTTP {status})"


@pytest.mark.slow
def test_fetch_body_at_limit_accepted_and_one_over_refused(server: _Server) -> None:
    assert len(_fetch_local(_url(server, f"/sized/{LIMIT}")).data) == LIMIT
    with pytest.raises(PayloadTooLarge):
        _fetch_local(_url(server, f"/sized/{LIMIT + 1}"))


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/declared-huge", "/chunked-huge", "/streamed-huge"])
def test_fetch_oversize_body_refused(server: _Server, path: str) -> None:
    with pytest.raises(PayloadTooLarge) as caught:
        _fetch_local(_url(server, path))
    assert caught.value.status == 413


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/short-body", "/short-chunked"])
def test_fetch_truncated_body_is_bad_request(server: _Server, path: str) -> None:
    with pytest.raises(FetchFailed, match="cut short"):
        _fetch_local(_url(server, path))


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/drip-body", "/drip-headers"])
def test_fetch_slow_drip_cut_off_by_total_budget(server: _Server, path: str) -> None:
    started = time.monotonic()
    with pytest.raises(FetchFailed, match="too long"):
        _fetch_local(_url(server, path), timeout=0.6)
    assert 0.5 < time.monotonic() - started < 1.5


@pytest.mark.slow
def test_fetch_budget_covers_all_redirect_hops(server: _Server) -> None:
    # Each hop alone is well inside the budget; together they are not.
    started = time.monotonic()
    with pytest.raises(FetchFailed, match="too long"):
        _fetch_local(_url(server, "/slow-hop/x"), timeout=0.8)
    assert time.monotonic() - started < 1.5
    assert len(server.seen) >= 2


def test_fetch_connection_refused_is_bad_request() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))  # bound but never listening: connections are refused
        port = unused.getsockname()[1]
        with pytest.raises(FetchFailed, match="refused"):
            _fetch_local(f"http://127.0.0.1:{port}/a.png")


# --- HTTPS: SNI and certificate checks use the URL's host name, not the dialled address ----------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A throwaway CA and a leaf certificate for NAME, as (ca, cert, key) PEM files."""
    pytest.importorskip("cryptography")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def usage(*, sign_certs: bool) -> x509.KeyUsage:
        return x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=sign_certs,
            crl_sign=sign_certs,
            encipher_only=False,
            decipher_only=False,
        )

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "imgshelf test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())

    def builder(subject: x509.Name, key: ec.EllipticCurvePrivateKey) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        )

    ca = (
        builder(ca_name, ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage(sign_certs=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NAME)]), leaf_key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage(sign_certs=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(NAME)]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    paths = folder / "ca.pem", folder / "leaf.pem", folder / "leaf.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


@pytest.fixture
def tls_server(tls_files: tuple[Path, Path, Path]) -> Iterator[_Server]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls_files[1], tls_files[2])
    with _serving(context) as running:
        yield running


@pytest.mark.slow
def test_fetch_https_verifies_certificate_for_url_host(
    tls_server: _Server, tls_files: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files[0]))
    resolver = FakeResolver({NAME: ["127.0.0.1"]})
    got = fetch(
        _url(tls_server, "/img/photo.png", host=NAME, scheme="https"),
        max_bytes=LIMIT,
        allow_hosts=frozenset({NAME}),
        resolver=resolver,
    )
    assert got.data == BODY
    assert tls_server.sni == [NAME]
    assert tls_server.seen[0]["Host"] == f"{NAME}:{tls_server.port}"


@pytest.mark.slow
@pytest.mark.parametrize("trusted", [True, False])
def test_fetch_https_bad_certificate_is_bad_request(
    tls_server: _Server, tls_files: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch, trusted: bool
) -> None:
    # Trusted CA but a name the certificate does not cover, or the right name from an unknown CA.
    host = "other.example.test" if trusted else NAME
    if trusted:
        monkeypatch.setenv("SSL_CERT_FILE", str(tls_files[0]))
    else:
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with pytest.raises(FetchFailed, match="certificate could not be verified"):
        fetch(
            _url(tls_server, "/img/photo.png", host=host, scheme="https"),
            max_bytes=LIMIT,
            allow_hosts=frozenset({host}),
            resolver=FakeResolver({host: ["127.0.0.1"]}),
        )
    assert tls_server.seen == []
