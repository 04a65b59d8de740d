"""The address policy, and the client refusing a destination before anything is sent: by address after
resolution, for literals, names, IPv6 forms that carry an IPv4 address, and URLs of the wrong shape."""

from __future__ import annotations

import pytest

from gatehouse.resilience.errors import DestinationRefused
from gatehouse.resilience.http_client import OutboundClient, parse_target
from gatehouse.resilience.retries import RetryPolicy
from gatehouse.resilience.ssrf import AddressPolicy

PUBLIC = AddressPolicy()
LOOPBACK_ALLOWED = AddressPolicy.from_setting("127.0.0.0/8, ::1/128")

REFUSED = {
    "127.0.0.1": "loopback",
    "127.255.0.9": "loopback",
    "::1": "loopback",
    "169.254.169.254": "metadata",
    "169.254.170.2": "metadata",
    "fd00:ec2::254": "metadata",
    "168.63.129.16": "metadata",
    "169.254.1.1": "link-local",
    "fe80::1": "link-local",
    "10.0.0.5": "private",
    "172.16.3.4": "private",
    "192.168.1.1": "private",
    "100.64.0.1": "shared",
    "0.0.0.0": "this-network",
    "0.1.2.3": "this-network",
    "255.255.255.255": "reserved",
    "240.0.0.1": "reserved",
    "224.0.0.251": "multicast",
    "ff02::1": "multicast",
    "fc00::1": "unique-local",
    "fd12:3456::1": "unique-local",
    "::": "IPv4-compatible or unspecified",
    "::7f00:1": "IPv4-compatible",
    "::ffff:127.0.0.1": "loopback",
    "::ffff:10.1.2.3": "private",
    "::ffff:169.254.169.254": "metadata",
    "64:ff9b::a9fe:a9fe": "metadata",  # NAT64 of 169.254.169.254
    "64:ff9b::7f00:1": "loopback",  # NAT64 of 127.0.0.1
    "2002:7f00:1::": "loopback",  # 6to4 of 127.0.0.1
    "2001:db8::1": "documentation",
    "192.0.2.10": "documentation",
    "198.18.0.1": "benchmarking",
    "2001::1": "IETF",  # Teredo
}


@pytest.mark.parametrize(("address", "why"), REFUSED.items())
def test_non_public_addresses_are_refused(address, why):
    refusal = PUBLIC.refusal(address)
    assert refusal is not None and why in refusal


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_public_addresses_are_allowed(address):
    assert PUBLIC.refusal(address) is None


def test_configuration_opens_networks_but_never_the_metadata_endpoints():
    assert LOOPBACK_ALLOWED.refusal("127.0.0.1") is None
    assert LOOPBACK_ALLOWED.refusal("::1") is None
    assert LOOPBACK_ALLOWED.refusal("::ffff:127.0.0.1") is None  # judged by the IPv4 it stands for
    assert LOOPBACK_ALLOWED.refusal("10.0.0.1") is not None
    link_local = AddressPolicy.from_setting("169.254.0.0/16")
    assert link_local.refusal("169.254.1.1") is None
    assert link_local.refusal("169.254.169.254") == "a cloud metadata address"


def test_a_setting_that_is_not_a_list_of_networks_is_refused():
    with pytest.raises(ValueError):
        AddressPolicy.from_setting("127.0.0.0/8, localhost")


class CountingResolver:
    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return self.answers[host]


def refused(url: str, resolver=None, policy: AddressPolicy = PUBLIC) -> str:
    client = OutboundClient(None, policy, resolver=resolver or CountingResolver({}))
    with pytest.raises(DestinationRefused) as refusal:
        client.request("GET", url)
    return refusal.value.reason


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://[::1]:8080/",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://10.0.0.7/admin",
        "http://[::ffff:127.0.0.1]/",
        "http://[fd00:ec2::254]/",
        "http://0.0.0.0:3000/",
        "https://[fe80::1%25eth0]/",
    ],
)
def test_literal_addresses_are_refused_without_a_lookup(url):
    resolver = CountingResolver({})
    assert "the host is" in refused(url, resolver)
    assert resolver.asked == []


def test_a_name_that_resolves_to_a_private_address_is_refused():
    assert refused("https://internal.example/", CountingResolver({"internal.example": ["10.1.2.3"]})) == (
        "the host resolves to a private address"
    )


def test_a_name_with_any_private_answer_is_refused():
    resolver = CountingResolver({"mixed.example": ["93.184.216.34", "127.0.0.1"]})
    assert "loopback" in refused("https://mixed.example/", resolver)


@pytest.mark.parametrize("url", ["http://localhost:9/", "http://2130706433/", "http://0x7f.1/", "http://127.1/"])
def test_names_the_system_resolves_to_loopback_are_refused(url):
    # The real resolver: glibc reads 2130706433, 0x7f.1 and 127.1 as 127.0.0.1.
    client = OutboundClient(None, PUBLIC)
    with pytest.raises(DestinationRefused) as refusal:
        client.request("GET", url)
    assert "loopback" in refusal.value.reason


def test_allowed_in_configuration_a_private_name_is_not_refused_by_policy():
    # The local stack allows loopback: the destination passes the policy (and then nothing listens).
    resolver = CountingResolver({"svc.local.test": ["127.0.0.1"]})
    client = OutboundClient(None, LOOPBACK_ALLOWED, resolver=resolver, retry=RetryPolicy(max_attempts=1))
    with pytest.raises(Exception) as failure:
        client.request("GET", "http://svc.local.test:9/")
    assert not isinstance(failure.value, DestinationRefused)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("file:///etc/passwd", "only http and https"),
        ("gopher://example.com/", "only http and https"),
        ("ftp://example.com/", "only http and https"),
        ("http://user:secret@example.com/", "credentials"),
        ("http://example.com\\@127.0.0.1/", "characters"),
        ("http://exa mple.com/", "characters"),
        ("http:///nohost", "no host"),
        ("http://example.com:99999/", "not valid"),
        ("https://example.com:0/", "port 0"),
        ("http://example.com:000/", "port 0"),
        ("http://exa_mple.com/", "not a valid name"),
    ],
)
def test_urls_of_the_wrong_shape_are_refused(url, why):
    assert why in refused(url)


def test_a_refusal_never_shows_the_path_or_query():
    reason = refused("http://10.0.0.1/reset?token=s3cr3t")
    assert "s3cr3t" not in reason and "reset" not in reason


def test_targets_keep_the_name_for_the_host_header_and_the_breaker():
    target = parse_target("https://Hooks.Example.COM/path?q=1")
    assert (target.host, target.port, target.target) == ("hooks.example.com", 443, "/path?q=1")
    assert target.host_header == "hooks.example.com" and target.breaker_name == "hooks.example.com:443"
    v6 = parse_target("http://[2606:4700::1]:8080/")
    assert v6.host_header == "[2606:4700::1]:8080" and v6.breaker_name == "[2606:4700::1]:8080"


@pytest.mark.parametrize("address", ["::ffff:0:a9fe:a9fe", "::ffff:0:7f00:1"])
def test_ipv4_translated_addresses_are_refused(address):
    # SIIT (RFC 6145) forms embed an IPv4 address (here metadata and loopback) a translator would reach.
    assert AddressPolicy().refusal(address) is not None
