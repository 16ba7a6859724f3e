"""Whether a webhook URL may be called, and the addresses it may be called at.

The allowlist names hosts, optionally with a port. A host given by NAME is resolved and refused
if any address it resolves to is loopback, private, link-local, unspecified, multicast, reserved
or otherwise not public, because DNS is outside the operator's control. A literal IP address
that is itself in the allowlist is allowed, as is a host listed in `allow_http_hosts`: the
operator named it on purpose (the demo endpoint on 127.0.0.1). The cloud metadata address is
refused even then, since its answer (credentials) would be echoed into Slack.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address

import httpx

from bot.adapters.executors.model import ExecutorPolicy, RefusedTarget

IPAddress = IPv4Address | IPv6Address
DEFAULT_PORTS = {"https": 443, "http": 80}
METADATA = frozenset({ip_address("169.254.169.254"), ip_address("fd00:ec2::254")})
METADATA_REASON = "the cloud metadata address"


@dataclass(frozen=True)
class Target:
    """A URL that passed the static checks."""

    url: httpx.URL
    host: str
    port: int
    check_addresses: bool  # named hosts are checked after resolution; see the module docstring


def check_url(raw: str, policy: ExecutorPolicy) -> Target:
    """The URL if the allowlist and scheme rules let it through; raise `RefusedTarget` if not."""
    try:
        url = httpx.URL(raw)
    except httpx.InvalidURL:
        raise RefusedTarget("The remediation URL is not a valid URL.") from None
    if url.scheme not in DEFAULT_PORTS:
        raise RefusedTarget("Remediation URLs must use https.")
    if url.userinfo:
        raise RefusedTarget("Remediation URLs may not carry a user name or password.")
    host, port = normal_host(url.raw_host.decode("ascii")), url.port or DEFAULT_PORTS[url.scheme]
    if not host:
        raise RefusedTarget("The remediation URL has no host.")
    if not _listed(host, port, policy.allowed_hosts):
        raise RefusedTarget(f"{host}:{port} is not in {policy.allowlist}.")
    exempt = _listed(host, port, policy.allow_http_hosts)
    if url.scheme == "http" and not exempt:
        raise RefusedTarget(f"{host} may only be called over https.")
    literal = _as_address(host)
    if literal is not None and forbidden_reason(literal) == METADATA_REASON:
        raise RefusedTarget(f"{host} is the cloud metadata address and is never called.")
    return Target(url=url, host=host, port=port, check_addresses=literal is None and not exempt)


async def resolve(target: Target) -> list[IPAddress]:
    """The addresses to connect to, every one checked; raise `RefusedTarget` if any is forbidden."""
    literal = _as_address(target.host)
    if literal is not None:
        return [literal]
    loop = asyncio.get_running_loop()
    answers = await loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(ip_address(str(answer[4][0])) for answer in answers))
    for address in addresses:
        reason = forbidden_reason(address)
        if reason and (target.check_addresses or reason == METADATA_REASON):
            raise RefusedTarget(f"{target.host} resolves to {address}, {reason}; it is not called.")
    return addresses


def forbidden_reason(address: IPAddress) -> str | None:
    """Why a named host may not resolve to `address`, or None if it is a public address."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    checks = (
        (address in METADATA, METADATA_REASON),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_unspecified, "an unspecified address"),
        (address.is_multicast, "a multicast address"),
        (address.is_private, "a private address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "not a public address"),
    )
    return next((reason for failed, reason in checks if failed), None)


def normal_host(host: str) -> str:
    """A host as the allowlist compares it: lower case, no brackets or final dot, IPs canonical."""
    host = host.strip().strip("[]").lower().rstrip(".")
    address = _as_address(host)
    return str(address) if address else host


def _listed(host: str, port: int, entries: frozenset[str]) -> bool:
    """Whether an entry ("host" or "host:port") names this host, and this port if it gives one."""
    for entry in entries:
        entry_host, entry_port = _split_entry(entry)
        if entry_host == host and entry_port in (None, port):
            return True
    return False


def _split_entry(entry: str) -> tuple[str, int | None]:
    """An allowlist entry's host and port: "host", "host:port", "::1", "[::1]" or "[::1]:port"."""
    text = entry.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, ""
    return normal_host(host), int(port) if port else None


def _as_address(host: str) -> IPAddress | None:
    """The host as an IP address, or None for a name."""
    try:
        return ip_address(host)
    except ValueError:
        return None
