"""Answering phone calls: the SIP endpoint started beside the web server, from the
`telephony:` config block, sharing the session registry and the session factory."""

from __future__ import annotations

import asyncio
import ipaddress
import os

from omnivox.agent.config import ConfigError, TelephonyConfig, split_host_port
from omnivox.media.sessions import SessionRegistry
from omnivox.media.sip.config import DigestCredentials, SipConfig
from omnivox.media.sip.endpoint import MediaSettings, SipEndpoint
from omnivox.media.sip.user_agent import SipUserAgent
from omnivox.media.transport import ConversationFactory


def sip_settings(telephony: TelephonyConfig) -> tuple[SipConfig, MediaSettings, str, int]:
    """The user agent's and the media's settings, and where to listen."""
    assert telephony.sip is not None
    host, port = split_host_port(telephony.sip)
    unspecified = ipaddress.ip_address(host).is_unspecified if _is_ip(host) else False
    address = telephony.public_address or ("127.0.0.1" if unspecified else host)
    auth = None
    if telephony.auth_username is not None:
        password = os.environ.get(telephony.auth_password_env)
        if not password:
            raise ConfigError(
                f"telephony.auth_username is set but ${telephony.auth_password_env} is empty"
            )
        auth = DigestCredentials(telephony.realm, telephony.auth_username, password)
    sip = SipConfig(
        local_host=address,
        local_port=port,
        max_calls=telephony.max_calls,
        allowed_networks=tuple(
            ipaddress.ip_network(n, strict=False) for n in telephony.allowed_networks
        ),
        auth=auth,
    )
    media = MediaSettings(
        address,
        host,
        telephony.rtp_ports,
        tuple(telephony.codecs),
        dict(telephony.transfer_targets),
    )
    return sip, media, host, port


async def start_sip(
    telephony: TelephonyConfig, open_conversation: ConversationFactory, registry: SessionRegistry
) -> SipEndpoint:
    sip, media, host, port = sip_settings(telephony)
    endpoint = SipEndpoint(SipUserAgent(sip), open_conversation, registry, media)
    loop = asyncio.get_running_loop()
    try:
        await loop.create_datagram_endpoint(lambda: endpoint, local_addr=(host, port))
    except OSError as err:
        raise ConfigError(
            f"telephony.sip: cannot listen on {host}:{port} ({err.strerror})"
        ) from None
    return endpoint


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
