"""A callbackUrl the campaign API accepts is one the outbound client calls, at the host the API judged
(gatehouse/urls.py holds the one rule both read)."""

from __future__ import annotations

import pytest

from gatehouse.campaigns.requests import _callback_url
from gatehouse.resilience.http_client import DestinationRefused, parse_target
from gatehouse.urls import url_host

UNICODE_HOSTS = [
    "https://exa\u00a0mple.com/hook",  # no-break space
    "https://exa\u2028mple.com/hook",  # line separator
    "https://exa\u0085mple.com/hook",  # NEL, a C1 control
    "https://local\u200bhost/hook",  # zero-width space: IDNA maps it away, "localhost"
    "https://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54/hook",  # fullwidth "localhost"
    "https://\uff11\uff12\uff17.0.0.1/hook",  # fullwidth digits: 127.0.0.1
    "https://\uff18.\uff18.\uff18.\uff18/hook",  # fullwidth digits: 8.8.8.8, a public literal
    "https://b\u00fccher.example/hook",  # a real IDN: xn--bcher-kva.example
]


@pytest.mark.parametrize("url", UNICODE_HOSTS)
def test_the_api_and_the_client_agree_on_a_unicode_host(url):
    try:
        _callback_url(url)
    except ValueError:
        return  # refused where it is stored: nothing is ever delivered there
    try:
        target = parse_target(url)
    except DestinationRefused:
        pytest.fail(f"the API accepted {url!r} but the client can never call it")
    # Accepted by both: the client calls a public host, the one the API judged.
    assert target.host not in ("localhost", "127.0.0.1"), target.host
    assert (target.host, target.literal) == url_host(url.split("/")[2])


@pytest.mark.parametrize("url", UNICODE_HOSTS[:6])
def test_a_unicode_space_or_a_disguised_loopback_host_is_refused_at_the_api(url):
    with pytest.raises(ValueError):
        _callback_url(url)


def test_a_name_idna_maps_onto_a_literal_is_that_literal():
    assert url_host("\uff11\uff12\uff17.0.0.1") == ("127.0.0.1", True)
    assert url_host("B\u00fccher.Example.") == ("xn--bcher-kva.example", False)
    for raw in ("", "exa\u00a0mple.com", "a_b.example"):
        with pytest.raises(ValueError):
            url_host(raw)
