"""TLS errors say what is wrong and what fixes it (issue 14, item 9): a certificate the client does
not trust, ``https://`` pointed at a plain-HTTP server (answering or silent). The certificates are
made here with the ``openssl`` command (skipped where there is none)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from ais_bench.clients.backends import VLLMCustomAPIChatStream, backend_for
from ais_bench.engine.client import open_http_client
from ais_bench.engine.request import Attempt, send_request
from tests.support.paths import REPO_ROOT
from tests.support.scripted_server import ScriptedConnection, ScriptedRequest, ScriptedServer, stream_chat

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")

SPEC = backend_for(VLLMCustomAPIChatStream)
BODY = b'{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}'
PATH = "v1/chat/completions"


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key: (cert.pem, key.pem)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return cert, key


def _server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def _two_tokens(conn: ScriptedConnection, request: ScriptedRequest) -> bool:
    await stream_chat(conn, ["a", "b"])
    return True


async def _send_once(url: str, connect_timeout_s: float = 10.0) -> Attempt:
    async with open_http_client(url, {}, None, 1, connect_timeout_s=connect_timeout_s) as client:
        attempt, _ = await send_request(client, SPEC, url, BODY, True, 0, 65536)
    return attempt


def test_a_self_signed_certificate_names_the_problem_and_the_option_that_fixes_it(self_signed):
    with ScriptedServer(_two_tokens, ssl_context=_server_context(*self_signed)) as server:
        url = server.base_url + PATH
        attempt = asyncio.run(_send_once(url))
    assert attempt.error_kind == "connect"
    message = attempt.error_message
    assert message.startswith(f"cannot reach {url}: the server's TLS certificate is not trusted (self")
    assert "signed certificate" in message
    assert "run with SSL_CERT_FILE=/path/to/ca.pem" in message


#: Runs in a child process with SSL_CERT_FILE set (the TLS context reads it when aiohttp is imported).
_TRUSTING_SCRIPT = textwrap.dedent("""
    import asyncio, sys
    from ais_bench.clients.backends import VLLMCustomAPIChatStream, backend_for
    from ais_bench.engine.client import open_http_client
    from ais_bench.engine.request import send_request

    async def main(url):
        async with open_http_client(url, {}, 30.0, 1) as client:
            attempt, _ = await send_request(
                client, backend_for(VLLMCustomAPIChatStream), url,
                b'{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}', True, 0, 65536)
        print(attempt.error_kind, attempt.state.text)

    asyncio.run(main(sys.argv[1]))
""")


def test_the_named_option_ssl_cert_file_makes_the_same_server_trusted(self_signed):
    cert, _ = self_signed
    with ScriptedServer(_two_tokens, ssl_context=_server_context(*self_signed)) as server:
        result = subprocess.run(
            [sys.executable, "-c", _TRUSTING_SCRIPT, server.base_url + PATH],
            cwd=REPO_ROOT, env={**os.environ, "SSL_CERT_FILE": str(cert)}, capture_output=True, text=True,
            timeout=60, check=False,
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["None", "ab"]


def test_https_to_a_plain_server_that_answers_is_named_as_such():
    """A plain server answers the TLS hello with an HTTP 400 and closes (as uvicorn or nginx do)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]

    def answer_400() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    server = threading.Thread(target=answer_400, daemon=True)
    server.start()
    url = f"https://127.0.0.1:{port}/{PATH}"
    try:
        attempt = asyncio.run(_send_once(url))
    finally:
        server.join(10)
        listener.close()
    assert attempt.error_kind == "connect"
    assert attempt.error_message.startswith(f"cannot reach {url}: TLS handshake failed (")
    assert attempt.error_message.endswith("the server does not speak TLS on this port: use http:// in url")


def test_https_to_a_plain_server_that_never_answers_fails_within_the_connect_timeout():
    """A plain server waiting for a request line that a TLS hello never completes: no hang."""

    async def never(conn: ScriptedConnection, request: ScriptedRequest) -> bool:
        return True

    with ScriptedServer(never) as server:
        url = server.base_url.replace("http://", "https://") + PATH
        began = time.perf_counter()
        attempt = asyncio.run(_send_once(url, connect_timeout_s=0.5))
        took_s = time.perf_counter() - began
    assert attempt.error_kind == "connect_timeout"
    assert attempt.error_message == (
        f"cannot reach {url}: no connection within 0.5 s (no answer to the TLS handshake: if the server "
        "speaks plain HTTP, use http:// in url)"
    )
    assert took_s < 30
