"""`/v1/realtime` with the official `openai` JavaScript SDK (npm, pinned in
tests/js/package-lock.json) under Node: one spoken turn of recorded human speech.

The SDK connects only over `wss:`, so the server listens with TLS here, on a certificate
made for the test that the client is given as its CA. `npm ci` installs the pinned SDK
on first use; without Node (or npm) the test is skipped and says why.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from omnivox.lab.local_server import serving
from tests.integration.conftest import agent_config, shared_stack
from tests.integration.test_realtime_sdk import QUESTION, recorded

JS = Path(__file__).parent.parent / "js"


def node_client() -> Path:
    """tests/js with its pinned packages installed (skips the test without Node)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are needed for the JavaScript SDK test (Debian: nodejs, npm)")
    if not (JS / "node_modules" / "openai").is_dir():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=JS,
            check=True,
            capture_output=True,
            timeout=300,
        )
    return JS / "spoken_turn.mjs"


def loopback_certificate(folder: Path) -> tuple[ssl.SSLContext, Path]:
    """A self-signed certificate for 127.0.0.1: the server's TLS context, and the PEM the
    client trusts."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem, key_pem = folder / "cert.pem", folder / "key.pem"
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_pem, key_pem)
    return context, cert_pem


@pytest.mark.slow
async def test_the_javascript_sdk_holds_a_spoken_turn(tmp_path: Path) -> None:
    script = node_client()
    tls, ca = loopback_certificate(tmp_path)
    speech = tmp_path / "question.pcm"
    speech.write_bytes(recorded(QUESTION).astype("<i2").tobytes())
    async with serving(agent_config(), shared_stack(), tls) as server:
        node = await asyncio.create_subprocess_exec(
            "node",
            str(script),
            server.url + "/v1",
            str(ca),
            str(speech),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(node.communicate(), 60)
    summary = json.loads(out.decode().strip().splitlines()[-1])
    assert node.returncode == 0, (summary, err.decode()[-2000:])
    assert summary["errors"] == [], summary["errors"]
    assert summary["status"] == "completed"
    assert "folder" in summary["transcript"].lower()
    assert summary["answer"] and summary["audioBytes"] > 24000  # half a second and more
    seen = summary["seen"]
    assert seen[0] == "session.created"
    for kind in (
        "session.updated",
        "input_audio_buffer.speech_started",
        "input_audio_buffer.committed",
        "response.created",
        "response.output_audio_transcript.delta",
        "response.output_audio.done",
    ):
        assert kind in seen, kind
