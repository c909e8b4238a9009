"""``https://`` through the load's client (``clients/tls.py`` on the kernel-stamped transport).

Streamed chat over TLS keeps the kernel's receive stamps (issue 17); the model config's ``ca_cert``,
``insecure`` and ``client_cert``/``client_key`` work; TLS errors say what is wrong and what fixes it
(issue 14, item 9): a certificate the client does not trust, one for another host name, a server that
wants a client certificate, ``https://`` pointed at a plain-HTTP server (answering or silent). The
certificates (a test CA, server and client certificates it signs) are made here with the ``openssl``
command (skipped where there is none)."""

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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from ais_bench.clients.backends import OPENAI_CHAT, backend_for
from ais_bench.clients.client import open_client
from ais_bench.clients.http1 import ConnectionPool, Endpoint, Exchange
from ais_bench.clients.loop import run_worker_loop
from ais_bench.clients.tls import DEFAULT_TLS, TLSOptions, TLSTransport, build_tls_context
from ais_bench.clients.transport import kernel_stamps_supported
from ais_bench.engine.attempt import Attempt
from ais_bench.engine.request import send_request
from tests.support.certs import make_self_signed
from tests.support.paths import REPO_ROOT
from tests.support.scripted_server import (
    ScriptedConnection,
    ScriptedRequest,
    ScriptedServer,
    chat_events,
    chunk,
    sse_head,
    stream_chat,
)

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")

SPEC = backend_for(OPENAI_CHAT)
BODY = b'{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}'
PATH = "v1/chat/completions"


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_self_signed(tmp_path_factory.mktemp("tls"))


def _server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def _two_tokens(conn: ScriptedConnection, request: ScriptedRequest) -> bool:
    await stream_chat(conn, ["a", "b"])
    return True


async def _send_once(url: str, connect_timeout_s: float = 10.0, tls: TLSOptions = DEFAULT_TLS) -> Attempt:
    async with open_client(url, {}, None, connect_timeout_s=connect_timeout_s, tls=tls) as client:
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
    assert "set ca_cert='/path/to/ca.pem' in the model config" in message
    assert "run with SSL_CERT_FILE=/path/to/ca.pem" in message
    assert "set insecure=True" in message


#: Runs in a child process with SSL_CERT_FILE set (OpenSSL reads it when the client's context is built).
_TRUSTING_SCRIPT = textwrap.dedent("""
    import asyncio, sys
    from ais_bench.clients.backends import OPENAI_CHAT, backend_for
    from ais_bench.clients.client import open_client
    from ais_bench.engine.request import send_request

    async def main(url):
        async with open_client(url, {}, 30.0) as client:
            attempt, _ = await send_request(
                client, backend_for(OPENAI_CHAT), url,
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


@dataclass(frozen=True)
class CertFiles:
    """A test CA and the certificates it signed (PEM files)."""

    ca: Path
    server: tuple[Path, Path]  # for IP 127.0.0.1: (cert, key)
    other_name: tuple[Path, Path]  # for DNS elsewhere.invalid only
    client: tuple[Path, Path]


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _signed(folder: Path, name: str, ca: Path, ca_key: Path, extensions: str) -> tuple[Path, Path]:
    cert, key, request, ext = (folder / f"{name}{suffix}" for suffix in (".pem", ".key", ".csr", ".ext"))
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(key), "-out", str(request), "-subj", f"/CN={name}")
    ext.write_text(f"{extensions}\nauthorityKeyIdentifier=keyid\nbasicConstraints=CA:FALSE\n")
    _openssl("x509", "-req", "-in", str(request), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
             "-days", "2", "-out", str(cert), "-extfile", str(ext))
    return cert, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    folder = tmp_path_factory.mktemp("pki")
    ca, ca_key = folder / "ca.pem", folder / "ca.key"
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(ca_key), "-out", str(ca), "-days", "2", "-subj", "/CN=ais_bench test CA",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
    return CertFiles(
        ca=ca,
        server=_signed(folder, "server", ca, ca_key, "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth"),
        other_name=_signed(
            folder, "other", ca, ca_key, "subjectAltName=DNS:elsewhere.invalid\nextendedKeyUsage=serverAuth"
        ),
        client=_signed(folder, "client", ca, ca_key, "extendedKeyUsage=clientAuth"),
    )


def _mutual_context(pki: CertFiles) -> ssl.SSLContext:
    """A server that accepts only clients with a certificate signed by the test CA."""
    context = _server_context(*pki.server)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(pki.ca)
    return context


#: See tests/integration/test_kernel_stamps.py: on 127.0.0.1 bytes arrive within the write call unless
#: the writer is preempted; the client below is blocked for 0.5 s, so a loop stamp would be >= 0.4 s off.
WRITE_TO_ARRIVAL_S = 0.25
BLOCKED_S = 0.5
GAP_S = 0.05


def _paced_stream(written_s: list[float]) -> Callable[[ScriptedConnection, ScriptedRequest], Awaitable[bool]]:
    """A chat stream of four tokens, one TLS record per event, ``GAP_S`` apart; ``written_s``: when each
    event was written (perf_counter s; the stream's last chunk follows [DONE] at once)."""

    async def script(conn: ScriptedConnection, request: ScriptedRequest) -> bool:
        await conn.write(sse_head())
        events = chat_events(["a", "b", "c", "d"])
        for index, event in enumerate(events):
            written_s.append(time.perf_counter())
            await conn.write(chunk(event) + (chunk(b"") if index == len(events) - 1 else b""))
            if index < len(events) - 1:
                await asyncio.sleep(GAP_S)
        return True

    return script


@pytest.mark.skipif(not kernel_stamps_supported(), reason="kernel receive stamps need Linux")
def test_a_blocked_client_stamps_each_https_read_with_the_arrival_of_its_encrypted_bytes(pki: CertFiles):
    """After the first piece the client's loop is blocked while the rest of the stream arrives; the
    read that follows is stamped with the kernel's arrival time of its newest (encrypted) bytes, not
    with the time the loop got round to it."""
    written_s: list[float] = []

    async def read_with_a_pause(url: str) -> tuple[object, list[tuple[float, float, int]]]:
        context = build_tls_context(TLSOptions(ca_cert=str(pki.ca)))
        pool = ConnectionPool(Endpoint.of(url, {}), True, None, tls_context=context)
        connection = await pool.acquire()
        pieces: list[tuple[float, float, int]] = []  # (read stamp, when seen, events so far)

        def sink(piece: bytes) -> None:
            events = (pieces[-1][2] if pieces else 0) + piece.count(b"\n\n")
            pieces.append((connection.transport.read_s, time.perf_counter(), events))
            if len(pieces) == 1:
                time.sleep(BLOCKED_S)  # a busy client: nothing is read while the stream goes on

        exchange = Exchange(asyncio.get_running_loop(), sink, None)
        connection.send(pool.endpoint.request(BODY), exchange)
        await asyncio.wait_for(exchange.done, 10)
        pool.close()
        return connection.transport, pieces

    with ScriptedServer(_paced_stream(written_s), ssl_context=_server_context(*pki.server)) as server:
        transport, pieces = run_worker_loop(read_with_a_pause(server.base_url + PATH))
    assert isinstance(transport, TLSTransport) and transport.kernel
    assert pieces[0][2] == 1 and pieces[-1][2] == len(written_s) == 6  # 4 tokens, the finish chunk, [DONE]
    newest_of_read: dict[float, int] = {}
    for stamp_s, _, events in pieces:  # the pieces of one read share its stamp
        newest_of_read[stamp_s] = max(events, newest_of_read.get(stamp_s, 0))
    for stamp_s, events in newest_of_read.items():
        assert 0 <= stamp_s - written_s[events - 1] < WRITE_TO_ARRIVAL_S
    late_stamp_s, late_seen_s, late_events = pieces[1]
    assert late_seen_s - written_s[late_events - 1] > 0.05  # the loop read it late ...
    assert late_stamp_s - written_s[newest_of_read[late_stamp_s] - 1] < WRITE_TO_ARRIVAL_S  # ... the stamp did not


@pytest.mark.skipif(not kernel_stamps_supported(), reason="kernel receive stamps need Linux")
def test_a_streamed_chat_over_https_through_the_engine_gets_one_arrival_stamp_per_token_event(pki: CertFiles):
    written_s: list[float] = []

    async def send(url: str) -> Attempt:
        tls = TLSOptions(ca_cert=str(pki.ca))
        async with open_client(url, {}, 30.0, kernel_stamps=True, tls=tls) as client:
            attempt, _ = await send_request(client, SPEC, url, BODY, True, 0, 65536)
            assert isinstance(client, ConnectionPool)
            assert all(isinstance(c.transport, TLSTransport) and c.transport.kernel for c in client._idle)
        return attempt

    with ScriptedServer(_paced_stream(written_s), ssl_context=_server_context(*pki.server)) as server:
        attempt = run_worker_loop(send(server.base_url + PATH))
    assert attempt.error_kind is None, attempt.error_message
    assert attempt.state.text == "abcd"
    token_points = attempt.points[1:]
    assert len(token_points) == 4
    for index, point_s in enumerate(token_points):  # the arrival of this event or of a later one in its read
        assert any(0 <= point_s - written_s[j] < WRITE_TO_ARRIVAL_S for j in range(index, len(written_s)))
    assert token_points == sorted(token_points)


def test_ca_cert_makes_a_server_signed_by_that_ca_trusted(pki: CertFiles):
    with ScriptedServer(_two_tokens, ssl_context=_server_context(*pki.server)) as server:
        url = server.base_url + PATH
        untrusted = asyncio.run(_send_once(url))
        trusted = asyncio.run(_send_once(url, tls=TLSOptions(ca_cert=str(pki.ca))))
    assert untrusted.error_kind == "connect"
    assert "the server's TLS certificate is not trusted (unable to get local issuer certificate)" in (
        untrusted.error_message
    )
    assert trusted.error_kind is None, trusted.error_message
    assert trusted.state.text == "ab"


def test_insecure_accepts_a_certificate_nothing_vouches_for(pki: CertFiles):
    with ScriptedServer(_two_tokens, ssl_context=_server_context(*pki.other_name)) as server:
        attempt = asyncio.run(_send_once(server.base_url + PATH, tls=TLSOptions(insecure=True)))
    assert attempt.error_kind is None, attempt.error_message
    assert attempt.state.text == "ab"


def test_a_certificate_for_another_host_name_is_named_as_such(pki: CertFiles):
    with ScriptedServer(_two_tokens, ssl_context=_server_context(*pki.other_name)) as server:
        url = server.base_url + PATH
        attempt = asyncio.run(_send_once(url, tls=TLSOptions(ca_cert=str(pki.ca))))
    assert attempt.error_kind == "connect"
    assert attempt.error_message == (
        f"cannot reach {url}: the server's TLS certificate is not valid for 127.0.0.1 (IP address mismatch, "
        "certificate is not valid for '127.0.0.1'); use a host name in url that the certificate names, or set "
        "insecure=True in the model config to skip the check"
    )


class BlockingTLSServer:
    """One connection at a time, on blocking ``ssl`` sockets (OpenSSL writes its alerts itself, as
    nginx's does; asyncio's servers drop a refused client without one): answers a chat stream."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"https://127.0.0.1:{self._listener.getsockname()[1]}/{PATH}"
        self.refused: list[str] = []
        self.answered = 0
        self._stopping = False
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> BlockingTLSServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping = True
        socket.create_connection(self._listener.getsockname(), timeout=10).close()  # wakes accept()
        self._thread.join(10)
        self._listener.close()

    def _serve(self) -> None:
        while True:
            raw, _ = self._listener.accept()
            if self._stopping:
                raw.close()
                return
            with raw:
                raw.settimeout(10)
                try:
                    with self._context.wrap_socket(raw, server_side=True) as conn:
                        self._answer(conn)
                except (ssl.SSLError, OSError) as exc:
                    self.refused.append(str(exc))

    def _answer(self, conn: ssl.SSLSocket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            data = conn.recv(65536)  # a TLS 1.3 server checks the client's certificate here
            if not data:
                return
            head += data
        length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        body = head.split(b"\r\n\r\n", 1)[1]
        while len(body) < length:
            body += conn.recv(65536)
        conn.sendall(sse_head("Connection: close") + b"".join(chunk(e) for e in chat_events(["a", "b"])) + chunk(b""))
        self.answered += 1


def test_a_server_that_requires_a_client_certificate_gets_the_configured_one(pki: CertFiles):
    with BlockingTLSServer(_mutual_context(pki)) as server:
        without = asyncio.run(_send_once(server.url, tls=TLSOptions(ca_cert=str(pki.ca))))
        cert, key = pki.client
        with_cert = asyncio.run(
            _send_once(server.url, tls=TLSOptions(ca_cert=str(pki.ca), client_cert=str(cert), client_key=str(key)))
        )
    url = server.url
    assert without.error_kind == "connect"
    assert without.error_message.startswith(f"cannot reach {url}: the server requires a client certificate (")
    assert without.error_message.endswith("set client_cert (and client_key) in the model config")
    assert with_cert.error_kind is None, with_cert.error_message
    assert with_cert.state.text == "ab"
    assert server.answered == 1  # the request without a certificate never reached the server's HTTP layer
    assert len(server.refused) == 1 and "certificate" in server.refused[0]


def test_a_server_that_drops_a_client_without_certificate_silently_gets_a_hint(pki: CertFiles):
    """Servers on Python's asyncio refuse a missing client certificate by dropping the connection,
    without the TLS alert that would name the problem: the failure says what to check."""
    with ScriptedServer(_two_tokens, ssl_context=_mutual_context(pki)) as server:
        attempt = asyncio.run(_send_once(server.base_url + PATH, tls=TLSOptions(ca_cert=str(pki.ca))))
    assert attempt.error_kind == "protocol"
    assert attempt.error_message.startswith("stream ended early after 0 events: ")
    assert attempt.error_message.endswith(
        "before the response; the server dropped a new TLS connection: if it requires a client certificate, "
        "check client_cert and client_key in the model config"
    )
