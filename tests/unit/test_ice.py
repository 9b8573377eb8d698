"""ICE server settings: URL checks, TURN REST credentials, and what each end is handed."""

from __future__ import annotations

import pytest
from aiortc.rtcconfiguration import RTCIceTransportPolicy

from omnivox.media.webrtc.ice import IceServer, IceServers, check_ice_url, turn_rest_credentials

STUN = IceServer(("stun:stun.example.org:3478",))
TURN = IceServer(("turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349"))
STATIC = IceServer(("turn:other.example.org",), "fixed", "pass")


def test_turn_rest_credentials_match_coturns_scheme() -> None:
    # Expected value from `openssl dgst -sha1 -hmac north -binary | base64` of the username.
    assert turn_rest_credentials("north", "alice", 1_700_003_600) == (
        "1700003600:alice",
        "wjwSXO2ch1B6VaLTLMy2Avn5O9o=",
    )


@pytest.mark.parametrize(
    "url",
    [
        "stun:stun.l.google.com:19302",
        "stuns:example.org",
        "turn:127.0.0.1:3478?transport=udp",
        "turns:[::1]:5349?transport=tcp",
    ],
)
def test_good_urls_pass(url: str) -> None:
    assert check_ice_url(url) == url


@pytest.mark.parametrize("url", ["", "http://example.org", "turn:", "stun://x", "turn:a b"])
def test_bad_urls_are_named(url: str) -> None:
    with pytest.raises(ValueError, match="not a STUN or TURN URL"):
        check_ice_url(url)


def test_minted_credentials_go_to_turn_entries_without_a_username_only() -> None:
    ice = IceServers((STUN, TURN, STATIC), turn_secret="north", credential_ttl_s=3600)
    stun, turn, static = ice.for_call("alice", now_s=1_700_000_000.7)
    assert stun == STUN and static == STATIC
    assert (turn.username, turn.credential) == ("1700003600:alice", "wjwSXO2ch1B6VaLTLMy2Avn5O9o=")
    assert turn.urls == TURN.urls


def test_without_a_secret_the_servers_are_as_configured() -> None:
    assert IceServers((STUN, TURN)).for_call("x", 0) == (STUN, TURN)


def test_page_configuration_is_a_w3c_rtc_configuration() -> None:
    ice = IceServers((STUN, STATIC), policy="relay")
    assert ice.page_configuration("x", 0) == {
        "iceServers": [
            {"urls": ["stun:stun.example.org:3478"]},
            {"urls": ["turn:other.example.org"], "username": "fixed", "credential": "pass"},
        ],
        "iceTransportPolicy": "relay",
    }


def test_aiortc_configuration_carries_servers_and_policy() -> None:
    config = IceServers((STATIC,), policy="relay").rtc_configuration("x", 0)
    assert config.iceTransportPolicy == RTCIceTransportPolicy.RELAY
    assert config.iceServers is not None
    [server] = config.iceServers
    assert (server.urls, server.username, server.credential) == (
        ["turn:other.example.org"],
        "fixed",
        "pass",
    )


def test_no_servers_means_none_at_all_not_aiortcs_default() -> None:
    config = IceServers().rtc_configuration("x", 0)
    assert config.iceServers == []
    assert config.iceTransportPolicy == RTCIceTransportPolicy.ALL


def test_whip_link_headers_quote_credentials() -> None:
    server = IceServer(("turn:t.example.org",), 'us"er', "p\\w")
    assert server.link_headers() == [
        '<turn:t.example.org>; rel="ice-server"; username="us\\"er"; '
        'credential="p\\\\w"; credential-type="password"'
    ]
    assert STUN.link_headers() == ['<stun:stun.example.org:3478>; rel="ice-server"']
