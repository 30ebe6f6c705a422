"""Where a webhook may go: one parser for `webhook_url`, and one check of the addresses its host
resolves to. The submit check and the sender both read the URL here, and the sender connects to
the very addresses checked (never to a second DNS answer)."""

import ipaddress
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from app.errors import InvalidUpload

# Resolves (host, port) to IP address strings: `socket.getaddrinfo` by default; tests pass their own.
Resolve = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_DEFAULT_PORTS = {"http": 80, "https": 443}
# A DNS name in ASCII (letters, digits, hyphens, dots), or a bracketed IPv6 literal; then a port.
_NAME = re.compile(r"(?P<host>[A-Za-z0-9.-]{1,253})(?::(?P<port>[0-9]{1,5}))?")
_IPV6 = re.compile(r"\[(?P<host>[0-9A-Fa-f:.]+)\](?::(?P<port>[0-9]{1,5}))?")
_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
# Not globally routable although `is_global` says so (Python 3.11), or reaching a private network:
# IETF protocol assignments (RFC 6890; 192.0.0.9-10 aside, none is a destination), site-local IPv6
# (RFC 3879, deprecated but routed by some stacks), local-use NAT64 (RFC 8215).
_REFUSED_NETWORKS = tuple(ipaddress.ip_network(net) for net in ("192.0.0.0/24", "fec0::/10", "64:ff9b:1::/48"))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_REFUSED_TARGET = "only globally routable addresses are accepted (WEBHOOK_ALLOW_PRIVATE is off)"


@dataclass(frozen=True)
class WebhookTarget:
    scheme: str
    # A lower-case DNS name, or an IP literal (IPv6 without its brackets).
    host: str
    port: int
    # Path and query, as sent in the request line.
    path: str


def parse_webhook_url(url: str) -> WebhookTarget:
    """The target of an http(s) URL, or InvalidUpload naming `webhook_url`. Strict on purpose: no
    userinfo, no percent-encoding or non-ASCII in the host, no spaces or control characters."""
    if not url.isascii() or any(char <= " " or char == "\x7f" for char in url):
        raise InvalidUpload("webhook_url", "spaces, control and non-ASCII characters are refused; percent-encode them")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise InvalidUpload("webhook_url", "not a valid URL") from None
    if parts.scheme not in _DEFAULT_PORTS or not parts.netloc:
        raise InvalidUpload("webhook_url", "send an http or https URL")
    if "@" in parts.netloc:
        raise InvalidUpload("webhook_url", "user names and passwords in the URL are refused")
    host, port = _host_and_port(parts.netloc)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return WebhookTarget(parts.scheme, host, port or _DEFAULT_PORTS[parts.scheme], path)


def _host_and_port(netloc: str) -> tuple[str, int | None]:
    bracketed = netloc.startswith("[")
    match = (_IPV6 if bracketed else _NAME).fullmatch(netloc)
    if not match:
        raise InvalidUpload("webhook_url", "the host must be a DNS name, an IPv4 address or a bracketed IPv6 address")
    host, port = match["host"].lower(), int(match["port"]) if match["port"] else None
    if port is not None and not 1 <= port <= 65535:
        raise InvalidUpload("webhook_url", "the port must be between 1 and 65535")
    if bracketed:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise InvalidUpload("webhook_url", "not a valid IPv6 address") from None
    elif not all(_LABEL.fullmatch(label) for label in host.split(".")):
        raise InvalidUpload("webhook_url", "each part of the host name must be 1-63 letters, digits or inner hyphens")
    return host, port


def resolve_addresses(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for the host (IP literals give themselves)."""
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def checked_addresses(target: WebhookTarget, allow_private: bool, resolve: Resolve = resolve_addresses) -> list[str]:
    """Resolve the host once and check every answer; the caller connects to these and no other.
    InvalidUpload when the host does not resolve or any address is not globally routable."""
    try:
        addresses = list(dict.fromkeys(resolve(target.host, target.port)))
    except (OSError, UnicodeError):
        addresses = []
    if not addresses:
        raise InvalidUpload("webhook_url", f"the host {target.host[:100]!r} does not resolve")
    if not allow_private and any(is_refused(ipaddress.ip_address(address.split("%")[0])) for address in addresses):
        raise InvalidUpload("webhook_url", _REFUSED_TARGET)
    return addresses


def check_webhook_url(url: str, allow_private: bool, resolve: Resolve = resolve_addresses) -> None:
    """The submit check: the URL parses and its host resolves to acceptable addresses only."""
    checked_addresses(parse_webhook_url(url), allow_private, resolve)


def is_refused(ip: IPAddress) -> bool:
    """Not globally routable, by itself or by the IPv4 address an IPv6 form carries (mapped,
    IPv4-compatible, 6to4, NAT64, Teredo): such a packet ends on that IPv4 address's network."""
    if not ip.is_global or ip.is_multicast or any(ip in network for network in _REFUSED_NETWORKS):
        return True
    return any(is_refused(embedded) for embedded in _embedded_ipv4(ip))


def _embedded_ipv4(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    embedded = [ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())]
    if ip in _NAT64 or int(ip) >> 32 == 0:  # NAT64 well-known prefix; deprecated IPv4-compatible ::a.b.c.d
        embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return [address for address in embedded if address is not None]
