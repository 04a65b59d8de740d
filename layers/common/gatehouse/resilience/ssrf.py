"""Which addresses an outbound request may reach: no SSRF (docs/resilience.md#ssrf). Standard library only.

A destination is judged by the addresses its name resolves to, never by the name, and the client
connects to the very address judged here (no second lookup a DNS rebinding could answer). Refused
unless configuration allows them: every address IANA's special-purpose registries mark as not
globally reachable (private, loopback, link-local, unique-local, CGNAT, this-network, documentation,
benchmarking, multicast, reserved, ...), judged by explicit tables so the answer does not change
with the Python version. IPv6 forms that carry an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`,
NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are judged by that IPv4 address; the deprecated
IPv4-compatible `::a.b.c.d` is refused. Cloud metadata endpoints are refused whatever the
configuration says.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Final

IPAddress = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network


def _nets(*entries: tuple[str, str]) -> tuple[tuple[Network, str], ...]:
    return tuple((ip_network(cidr), what) for cidr, what in entries)


# Never reachable, even when a configured network covers them: instance and task metadata.
METADATA: Final = _nets(
    ("169.254.169.254/32", "a cloud metadata address"),  # AWS, GCP, Azure IMDS
    ("169.254.170.2/32", "a cloud metadata address"),  # ECS task metadata and credentials
    ("169.254.170.23/32", "a cloud metadata address"),  # EKS Pod Identity
    ("fd00:ec2::254/128", "a cloud metadata address"),  # AWS IMDS over IPv6
    ("fd00:ec2::23/128", "a cloud metadata address"),  # EKS Pod Identity over IPv6
    ("168.63.129.16/32", "a cloud metadata address"),  # Azure wire server
    ("100.100.100.200/32", "a cloud metadata address"),  # Alibaba Cloud
    ("192.0.0.192/32", "a cloud metadata address"),  # Oracle Cloud
)

# IANA IPv4 Special-Purpose Address Registry: the blocks that are not globally reachable.
_IPV4: Final = _nets(
    ("0.0.0.0/8", "a this-network address"),
    ("10.0.0.0/8", "a private address"),
    ("100.64.0.0/10", "a shared (CGNAT) address"),
    ("127.0.0.0/8", "a loopback address"),
    ("169.254.0.0/16", "a link-local address"),
    ("172.16.0.0/12", "a private address"),
    ("192.0.0.0/24", "an IETF protocol address"),
    ("192.0.2.0/24", "a documentation address"),
    ("192.88.99.0/24", "a 6to4 relay address"),
    ("192.168.0.0/16", "a private address"),
    ("198.18.0.0/15", "a benchmarking address"),
    ("198.51.100.0/24", "a documentation address"),
    ("203.0.113.0/24", "a documentation address"),
    ("224.0.0.0/4", "a multicast address"),
    ("240.0.0.0/4", "a reserved address"),  # 255.255.255.255 included
)

# IANA IPv6 Special-Purpose Address Registry, and the deprecated blocks still routed somewhere.
_IPV6: Final = _nets(
    ("::/96", "an IPv4-compatible or unspecified address"),  # :: and ::1 too
    ("64:ff9b:1::/48", "a local-use NAT64 address"),
    ("::ffff:0:0:0/96", "an IPv4-translated address"),  # SIIT: would reach the embedded IPv4 address
    ("100::/64", "a discard-only address"),
    ("2001::/23", "an IETF protocol address"),  # Teredo, ORCHID, ...
    ("2001:db8::/32", "a documentation address"),
    ("3fff::/20", "a documentation address"),
    ("5f00::/16", "a segment-routing address"),
    ("fc00::/7", "a unique-local address"),
    ("fe80::/10", "a link-local address"),
    ("fec0::/10", "a site-local address"),
    ("ff00::/8", "a multicast address"),
)
_LOOPBACK_V6: Final = ip_network("::1/128")
_NAT64: Final = ip_network("64:ff9b::/96")
_SIX_TO_FOUR: Final = ip_network("2002::/16")


def _embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, NAT64, 6to4), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _SIX_TO_FOUR:
        return address.sixtofour
    return None


def _category(address: IPAddress) -> str | None:
    if address.version == 6 and address in _LOOPBACK_V6:
        return "a loopback address"
    for network, what in _IPV4 if address.version == 4 else _IPV6:
        if address in network:
            return what
    return None


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """The networks configuration opens on top of the public Internet (the local stack opens loopback)."""

    allowed: tuple[Network, ...] = ()

    @classmethod
    def from_setting(cls, text: str) -> AddressPolicy:
        """A comma-separated list of CIDRs (`127.0.0.0/8,::1/128`); ValueError on anything else."""
        return cls(tuple(ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()))

    def refusal(self, address: str | IPAddress) -> str | None:
        """Why `address` may not be reached, or None when it may."""
        try:
            ip = ip_address(address) if isinstance(address, str) else address
        except ValueError:
            return "not an IP address"
        if isinstance(ip, IPv6Address) and ip.scope_id:
            return "an address with a zone"
        embedded = _embedded_ipv4(ip) if isinstance(ip, IPv6Address) else None
        for candidate in (ip, embedded):
            if candidate is not None and any(candidate in net for net, _ in METADATA):
                return "a cloud metadata address"
        if embedded is not None:
            return self.refusal(embedded)
        if any(ip.version == net.version and ip in net for net in self.allowed):
            return None
        return _category(ip)
