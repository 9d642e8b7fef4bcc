"""Upload by URL: fetches a remote file without letting the URL reach private networks (R13)."""

from __future__ import annotations

import http.client
import io
import ipaddress
import re
import socket
import ssl
import threading
import time
from collections.abc import Buffer, Callable
from concurrent.futures import Future
from dataclasses import dataclass
from urllib.parse import quote, unquote, urldefrag, urljoin, urlsplit

from chalicelib.errors import BadRequest, PayloadTooLarge

Resolver = Callable[[str, int], list[str]]  # (host, port) -> list of IP address strings
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

USER_AGENT = "imgshelf-sideload/1"
ACCEPT = "image/*,application/pdf;q=0.9,*/*;q=0.1"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

_DEFAULT_PORTS = {"http": 80, "https": 443}
_MAX_URL_LENGTH = 2048
_READ_CHUNK = 64 * 1024
# Whitespace and control characters are where request smuggling and parser disagreements live;
# a backslash is a path separator to browsers but not to urlsplit.
_FORBIDDEN_URL_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
_PRINTABLE_ASCII = "".join(chr(c) for c in range(0x21, 0x7F))
_HOST_LABEL = r"(?!-)[a-z0-9_-]{1,63}(?<!-)"
_HOSTNAME = re.compile(rf"{_HOST_LABEL}(\.{_HOST_LABEL})*\.?")
# The number forms inet_aton (and so getaddrinfo) accepts in a dotted IPv4 literal.
_INET_NUMBER = re.compile(r"0x[0-9a-f]*|0[0-7]*|[1-9][0-9]*")
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")

_IPV6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_BLOCKED_NETWORKS: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        # IPv4: "this" network, private, CGNAT, loopback, link-local (cloud metadata), IETF protocol
        # assignments, documentation, 6to4 relay anycast, benchmarking, multicast, reserved, broadcast.
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        # IPv6 inside 2000::/3: IETF protocol assignments (Teredo, benchmarking, ORCHID) and 6to4
        # carry an IPv4 address a relay would reach for us; plus both documentation ranges.
        "2001::/23",
        "2001:db8::/32",
        "2002::/16",
        "3fff::/20",
    )
)


class InvalidUrl(BadRequest):
    message = "Invalid URL"


class UnsafeUrl(BadRequest):
    message = "That URL is not allowed"


class FetchFailed(BadRequest):
    message = "The URL could not be fetched"


@dataclass(frozen=True)
class Fetched:
    data: bytes
    content_type: str | None
    final_url: str
    filename: str | None  # last path segment of the final URL, if any


@dataclass(frozen=True)
class _Target:
    url: str
    scheme: str
    host: str  # lower-case ASCII; an IPv6 literal without brackets
    port: int
    request_target: str  # path and query, percent-encoded ASCII

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


def fetch(
    url: str,
    *,
    max_bytes: int,
    allow_hosts: frozenset[str] = frozenset(),
    timeout: float = 10.0,
    max_redirects: int = 3,
    resolver: Resolver | None = None,
) -> Fetched:
    """GET `url`, following redirects by hand; every hop is re-validated, re-resolved and re-checked.

    `allow_hosts` exempts those exact host names from the public-address check and nothing else.
    `timeout` is the wall-clock budget for the whole fetch, DNS and redirects included.
    """
    deadline = time.monotonic() + timeout
    target = _parse_url(url)
    redirects = 0
    while True:
        addresses = _vetted_addresses(target, allow_hosts, resolver or _system_resolver, deadline)
        outcome = _get(target, addresses, max_bytes, deadline)
        if isinstance(outcome, Fetched):
            return outcome
        if redirects >= max_redirects:
            raise FetchFailed("The URL redirected too many times")
        redirects += 1
        try:
            target = _parse_url(urljoin(target.url, outcome))
        except InvalidUrl as e:
            raise InvalidUrl("The URL redirected to an invalid URL") from e


def is_public_address(address: IPAddress | str) -> bool:
    """True only for addresses on the public internet; the rule every resolved address must pass."""
    ip = _unmapped(ipaddress.ip_address(address))
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64:
            # A DNS64 resolver synthesises these for IPv4-only hosts; judge the IPv4 host itself.
            return is_public_address(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        # Everything outside global unicast is loopback, link-local, unique-local, multicast,
        # IPv4-compatible or unassigned.
        if ip not in _IPV6_GLOBAL_UNICAST:
            return False
    if any(ip in network for network in _BLOCKED_NETWORKS):
        return False
    # The standard library's special-purpose registry as a second opinion; it counts multicast
    # as global, so that is checked separately.
    return ip.is_global and not ip.is_multicast


def _parse_url(url: str) -> _Target:
    if len(url) > _MAX_URL_LENGTH or _FORBIDDEN_URL_CHARS.search(url):
        raise InvalidUrl()
    try:
        parts = urlsplit(urldefrag(url).url)
        port = parts.port
    except ValueError as e:
        raise InvalidUrl() from e
    # Userinfo is refused outright: http://evil@127.0.0.1/ reads as one host to people, another to parsers.
    if parts.scheme not in _DEFAULT_PORTS or "@" in parts.netloc or not parts.hostname or port == 0:
        raise InvalidUrl()
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return _Target(
        url=parts.geturl(),
        scheme=parts.scheme,
        host=_normalised_host(parts.hostname, bracketed="[" in parts.netloc),
        port=port or _DEFAULT_PORTS[parts.scheme],
        # http.client only sends ASCII; encode the rest the way browsers do.
        request_target=quote(path, safe=_PRINTABLE_ASCII),
    )


def _normalised_host(hostname: str, *, bracketed: bool) -> str:
    if bracketed:
        # urlsplit also lets IPvFuture ("[v1.x]") through; only real IPv6 literals are accepted.
        try:
            ipaddress.IPv6Address(hostname)
        except ValueError as e:
            raise InvalidUrl() from e
        return hostname
    try:
        host = hostname.encode("idna").decode("ascii").lower()
    except UnicodeError as e:
        raise InvalidUrl() from e
    if len(host) > 253 or not _HOSTNAME.fullmatch(host):
        raise InvalidUrl()
    _ipv4_literal(host)  # malformed numeric hosts are an invalid URL, not a refused one
    return host


def _ipv4_literal(host: str) -> ipaddress.IPv4Address | None:
    """Parse every IPv4 spelling getaddrinfo accepts (2130706433, 0x7f.1, 0177.0.0.1), else None."""
    labels = host.removesuffix(".").split(".")
    if len(labels) > 4 or not all(_INET_NUMBER.fullmatch(label) for label in labels):
        # Like browsers, a host ending in a number must be an address: "08.0.0.1" or "1.2.3.4.5"
        # would otherwise go to DNS, and resolvers disagree on what they mean.
        if _NUMERIC_LABEL.fullmatch(labels[-1]):
            raise InvalidUrl()
        return None
    *head, last = [_inet_number(label) for label in labels]
    if any(n > 0xFF for n in head) or last >= 1 << (8 * (4 - len(head))):
        raise InvalidUrl()
    value = last
    for i, n in enumerate(head):
        value += n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


def _inet_number(label: str) -> int:
    if label.startswith("0x"):
        return int(label[2:] or "0", 16)
    if label.startswith("0") and len(label) > 1:
        return int(label[1:], 8)
    return int(label)


def _unmapped(ip: IPAddress) -> IPAddress:
    # ::ffff:127.0.0.1 is 127.0.0.1 on a dual-stack socket; judge and connect to the IPv4 form.
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _vetted_addresses(
    target: _Target, allow_hosts: frozenset[str], resolver: Resolver, deadline: float
) -> list[IPAddress]:
    literal = _literal_address(target.host)
    addresses = [literal] if literal is not None else _resolved(target, resolver, deadline)
    if target.host not in allow_hosts and not all(is_public_address(a) for a in addresses):
        raise UnsafeUrl()
    return addresses


def _literal_address(host: str) -> IPAddress | None:
    if ":" in host:
        return _unmapped(ipaddress.IPv6Address(host))
    return _ipv4_literal(host)


def _resolved(target: _Target, resolver: Resolver, deadline: float) -> list[IPAddress]:
    unresolved = FetchFailed("The URL's host could not be resolved")
    try:
        names = _call_within(resolver, target.host, target.port, deadline)
        addresses = [_unmapped(ipaddress.ip_address(n)) for n in dict.fromkeys(names)]
    except TimeoutError as e:
        raise FetchFailed("The URL took too long to respond") from e
    except (OSError, UnicodeError, ValueError) as e:
        raise unresolved from e
    if not addresses:
        raise unresolved
    return addresses


def _call_within(resolver: Resolver, host: str, port: int, deadline: float) -> list[str]:
    # getaddrinfo has no timeout of its own, so a stalled DNS server would outlive the budget; the
    # lookup runs in a daemon thread that is abandoned (and finishes on its own) if it overruns.
    wait = _remaining(deadline)
    answer: Future[list[str]] = Future()

    def run() -> None:
        try:
            answer.set_result(resolver(host, port))
        except Exception as e:
            answer.set_exception(e)

    threading.Thread(target=run, name="sideload-resolve", daemon=True).start()
    return answer.result(timeout=wait)


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos if info[0] in (socket.AF_INET, socket.AF_INET6)]


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("sideload time budget spent")
    return left


def _get(target: _Target, addresses: list[IPAddress], max_bytes: int, deadline: float) -> Fetched | str:
    """One GET to a vetted address: the Fetched result, or the Location of a redirect."""
    sock: socket.socket | None = None
    try:
        sock = _connect(target, addresses, deadline)
        conn = http.client.HTTPConnection(target.host, target.port)
        # The socket is already connected to the vetted address, so http.client never resolves
        # the host name itself.
        conn.sock = _DeadlineSocket(sock, deadline)
        conn.request("GET", target.request_target, headers=_request_headers(target))
        response = conn.getresponse()
        location = response.getheader("Location")
        if response.status in REDIRECT_STATUSES and location:
            return location
        if not 200 <= response.status < 300:
            raise FetchFailed(f"The URL could not be fetched (HTTP {response.status})")
        data = _read_body(response, max_bytes)
    except (OSError, http.client.HTTPException) as e:
        raise _fetch_error(e) from e
    finally:
        if sock is not None:
            sock.close()
    return Fetched(
        data=data,
        content_type=_media_type(response.getheader("Content-Type")),
        final_url=target.url,
        filename=_filename(target.url),
    )


def _connect(target: _Target, addresses: list[IPAddress], deadline: float) -> socket.socket:
    error: OSError = ConnectionError("no address to connect to")
    for address in addresses:
        try:
            sock = _dial(address, target.port, deadline)
        except OSError as e:
            error = e
            continue
        if target.scheme == "http":
            return sock
        # SNI and certificate checks use the URL's host name, not the address we dialled. Made
        # per fetch so the trust store in effect (SSL_CERT_FILE) is the one that applies.
        sock.settimeout(_remaining(deadline))
        return ssl.create_default_context().wrap_socket(sock, server_hostname=target.host)
    raise error


def _dial(address: IPAddress, port: int, deadline: float) -> socket.socket:
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(_remaining(deadline))
        sock.connect((str(address), port))
    except OSError:
        sock.close()
        raise
    return sock


def _request_headers(target: _Target) -> dict[str, str]:
    # Identity encoding keeps the byte cap about the bytes we store; no cookies or credentials ever.
    return {
        "Host": target.host_header,
        "User-Agent": USER_AGENT,
        "Accept": ACCEPT,
        "Accept-Encoding": "identity",
        "Connection": "close",
    }


def _read_body(response: http.client.HTTPResponse, max_bytes: int) -> bytes:
    # http.client sets length only from a valid Content-Length on a non-chunked body.
    if response.length is not None and response.length > max_bytes:
        raise PayloadTooLarge()
    body = bytearray()
    while chunk := response.read1(_READ_CHUNK):
        body += chunk
        if len(body) > max_bytes:
            raise PayloadTooLarge()
    # read1 does not raise IncompleteRead; length is what Content-Length promised and never came.
    if response.length:
        raise FetchFailed("The URL's response was cut short")
    return bytes(body)


def _fetch_error(error: OSError | http.client.HTTPException) -> FetchFailed:
    if isinstance(error, TimeoutError):
        return FetchFailed("The URL took too long to respond")
    if isinstance(error, http.client.IncompleteRead):
        return FetchFailed("The URL's response was cut short")
    if isinstance(error, ssl.SSLCertVerificationError):
        return FetchFailed("The URL's TLS certificate could not be verified")
    if isinstance(error, ssl.SSLError):
        return FetchFailed("A secure connection to the URL could not be made")
    if isinstance(error, ConnectionRefusedError):
        return FetchFailed("The URL's server refused the connection")
    return FetchFailed()


def _media_type(header: str | None) -> str | None:
    media_type = (header or "").split(";", 1)[0].strip().lower()
    return media_type or None


def _filename(url: str) -> str | None:
    segment = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    # %2F or %5C would otherwise smuggle a path separator into the name.
    name = re.split(r"[/\\]", segment)[-1].strip()
    return name or None


class _DeadlineSocket:
    """What http.client sees as its socket: every send and receive gets only the budget left.

    A per-operation timeout alone would let a server that drips one byte per second run forever;
    re-arming the timeout from the deadline before each receive bounds the whole exchange.
    """

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline

    def sendall(self, data: Buffer) -> None:
        self._sock.settimeout(_remaining(self._deadline))
        self._sock.sendall(data)

    def makefile(self, mode: str = "rb") -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, self._deadline))

    def close(self) -> None:
        # http.client closes its "socket" as soon as it sees Connection: close, before the body
        # is read; the real socket is closed by _get once the exchange is over.
        pass


class _DeadlineReader(io.RawIOBase):
    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self._sock = sock
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Buffer) -> int:
        self._sock.settimeout(_remaining(self._deadline))
        return self._sock.recv_into(buffer)
