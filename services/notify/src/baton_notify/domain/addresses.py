"""Where a webhook may go: never loopback, private, link-local or otherwise internal addresses
(a webhook is a request the server makes for a caller: SSRF), unless a deployment allows them."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit


class AddressRefused(ValueError):
    """The URL is not one notify sends to; the message says why."""


def check_url(url: str) -> tuple[str, int]:
    """Host and port of an http(s) URL without credentials or fragment, else AddressRefused."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise AddressRefused(f"not a URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise AddressRefused("the URL must be http:// or https://")
    if not parts.hostname:
        raise AddressRefused("the URL has no host")
    if len(parts.hostname) > 253 or any(len(label) > 63 for label in parts.hostname.split(".")):
        raise AddressRefused("the host name is too long")
    if parts.username or parts.password:
        raise AddressRefused("the URL may not carry credentials")
    if parts.fragment:
        raise AddressRefused("the URL may not have a fragment")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def internal(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


async def resolve_allowed(url: str, allow_private: bool) -> None:
    """Refuse the URL when any address its host resolves to is internal (every one is checked:
    a name resolving to one public and one private address is refused)."""
    host, port = check_url(url)
    if allow_private:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as exc:
        raise AddressRefused(f"the host {host[:100]} does not resolve: {exc}") from None
    addresses = sorted({info[4][0] for info in infos})
    refused = [a for a in addresses if internal(a)]
    if refused or not addresses:
        raise AddressRefused(
            f"the host {host} resolves to an internal address ({', '.join(refused)}); "
            "set BATON_WEBHOOKS_ALLOW_PRIVATE=true to allow it"
        )
