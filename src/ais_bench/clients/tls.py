"""TLS on the kernel-stamped transport: ``https://`` keeps the kernel's receive stamps.

The socket is read with ``recvmsg`` exactly as for plain http (``clients/transport.py``), so a read's
stamp is the arrival of its newest *encrypted* bytes; they are then decrypted in memory by an
``ssl.SSLObject`` over two ``ssl.MemoryBIO`` s (``incoming``: bytes read from the socket, ``outgoing``:
bytes to write to it) and the plain text goes to the protocol inside the same read. The handshake
(:func:`tls_handshake`) runs before the transport exists, as part of connecting.

Certificates are checked as the standard library does (``ssl.create_default_context``: the system's
CAs, or ``SSL_CERT_FILE``; the host name of the URL checked and sent as SNI); :class:`TLSOptions`
holds the model config's ``ca_cert``, ``insecure``, ``client_cert`` and ``client_key``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from ais_bench.clients.transport import READ_BYTES, Clock, KernelStampedTransport

#: OpenSSL's verify codes of a certificate that does not name the host (X509_V_ERR_HOSTNAME_MISMATCH,
#: X509_V_ERR_IP_ADDRESS_MISMATCH).
_NAME_MISMATCH_CODES = frozenset({62, 64})


@dataclass(frozen=True)
class TLSOptions:
    """How the client checks an ``https://`` server and shows itself to it (picklable: it goes to the
    worker processes, which build their own context).

    ``ca_cert``: PEM file of the CA certificates to trust instead of the system's (empty: the
    system's, or those of ``SSL_CERT_FILE``); ``insecure``: check neither the certificate nor the
    host name; ``client_cert`` / ``client_key``: PEM files of the client's certificate and its key,
    for a server that asks for one (mutual TLS; the key may be in the certificate's file)."""

    ca_cert: str = ""
    insecure: bool = False
    client_cert: str = ""
    client_key: str = ""


#: The standard library's checks, nothing more: the system's CAs (or ``SSL_CERT_FILE``), no client certificate.
DEFAULT_TLS = TLSOptions()


class TLSSetupError(ValueError):
    """A certificate or key file of :class:`TLSOptions` cannot be used (one line, names the field)."""


def build_tls_context(options: TLSOptions) -> ssl.SSLContext:
    """The client context of ``options``; :class:`TLSSetupError` names a file that cannot be loaded."""
    try:
        context = ssl.create_default_context(cafile=options.ca_cert or None)
    except (OSError, ssl.SSLError) as exc:
        raise TLSSetupError(f"cannot load ca_cert {options.ca_cert}: {_file_problem(exc)}") from None
    if options.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if options.client_cert:
        try:
            context.load_cert_chain(options.client_cert, options.client_key or None)
        except (OSError, ssl.SSLError) as exc:
            files = " and ".join(name for name in (options.client_cert, options.client_key) if name)
            raise TLSSetupError(f"cannot load client_cert/client_key ({files}): {_file_problem(exc)}") from None
    context.set_alpn_protocols(["http/1.1"])
    return context


def _file_problem(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        detail = str(exc.reason or exc).lower().replace("_", " ")
        return f"not a usable PEM file ({detail})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


@dataclass
class TLSSession:
    """An established TLS session and its two memory buffers."""

    tls: ssl.SSLObject
    incoming: ssl.MemoryBIO
    outgoing: ssl.MemoryBIO


class TLSHandshakeEOF(ConnectionError):
    """The server closed the connection during the TLS handshake."""


async def tls_handshake(
    loop: asyncio.AbstractEventLoop, sock: socket.socket, context: ssl.SSLContext, server_hostname: str
) -> TLSSession:
    """Run the client's handshake on the connected non-blocking ``sock``. Raises ``ssl.SSLError``
    (``ssl.SSLCertVerificationError`` for a rejected certificate) or :class:`TLSHandshakeEOF`."""
    session = TLSSession(*_new_tls(context, server_hostname))
    tls, incoming, outgoing = session.tls, session.incoming, session.outgoing
    while True:
        try:
            tls.do_handshake()
            finished = True
        except ssl.SSLWantReadError:
            finished = False
        except ssl.SSLError:
            _send_now(sock, outgoing.read())  # the alert that tells the server why
            raise
        pending = outgoing.read()
        if pending:
            await loop.sock_sendall(sock, pending)
        if finished:
            return session
        data = await loop.sock_recv(sock, READ_BYTES)
        if not data:
            raise TLSHandshakeEOF("server closed the connection during the TLS handshake")
        incoming.write(data)


def _new_tls(context: ssl.SSLContext, server_hostname: str) -> tuple[ssl.SSLObject, ssl.MemoryBIO, ssl.MemoryBIO]:
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    return context.wrap_bio(incoming, outgoing, server_side=False, server_hostname=server_hostname), incoming, outgoing


def _send_now(sock: socket.socket, data: bytes) -> None:
    """Best effort, never waits: for a closing alert whose delivery nobody depends on."""
    if data:
        with contextlib.suppress(OSError):
            sock.send(data)


class TLSTransport(KernelStampedTransport):
    """:class:`KernelStampedTransport` whose bytes are TLS records: reads are stamped as they come
    off the socket (encrypted), decrypted, and the plain text handed to the protocol within the same
    read; writes are encrypted before they go to the socket (``write_s`` is still the moment the
    request's first byte reaches the kernel). Post-handshake messages (TLS 1.3 tickets and key
    updates, a TLS 1.2 renegotiation) are answered as they come; ``close()`` sends close_notify."""

    __slots__ = ("_incoming", "_outgoing", "_tls")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        protocol: Any,
        session: TLSSession,
        kernel: bool = True,
        clock: Clock = perf_counter,
    ):
        super().__init__(loop, sock, protocol, kernel, clock)
        self._tls = session.tls
        self._incoming = session.incoming
        self._outgoing = session.outgoing
        self._extra["ssl_object"] = session.tls
        self._extra["peercert"] = session.tls.getpeercert()

    def _set_receiver(self) -> None:
        self._received = self._decrypt

    def _decrypt(self, data: bytes) -> None:
        self._incoming.write(data)
        read = self._tls.read
        while not self._closing:
            try:
                plain = read(READ_BYTES)
            except ssl.SSLWantReadError:
                break  # the rest of a record is still on its way (or a handshake message was consumed)
            except ssl.SSLZeroReturnError:  # the server's close_notify: the end of the stream
                self._flush_outgoing()
                self._on_eof()
                return
            if not plain:
                break
            self._protocol.data_received(plain)
        self._flush_outgoing()

    def _flush_outgoing(self) -> None:
        """Write what the TLS session produced on its own (an answer to a renegotiation or a key update)."""
        if self._outgoing.pending and not self._closing:
            KernelStampedTransport.write(self, self._outgoing.read())

    def _fatal_error(self, exc: BaseException) -> None:
        if isinstance(exc, OSError) and not isinstance(exc, ssl.SSLError):
            exc = self._alert_behind(exc)
        super()._fatal_error(exc)

    def _alert_behind(self, exc: OSError) -> BaseException:
        """The TLS alert queued before a reset, if any, else ``exc``. A TLS 1.3 server that refuses the
        client (no client certificate, one it does not trust) sends an alert and drops the connection
        after the client's handshake has ended; the client may meet the reset first, when writing its
        request. The alert, still in the socket's receive queue, says why."""
        with contextlib.suppress(OSError):
            while data := self._sock.recv(READ_BYTES):
                self._incoming.write(data)
        try:
            while self._tls.read(READ_BYTES):
                pass
        except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
            return exc
        except ssl.SSLError as alert:
            return alert
        return exc

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data or self._closing:
            return
        self._tls.write(data)
        super().write(self._outgoing.read())

    def close(self) -> None:
        if self._closing:
            return
        with contextlib.suppress(ssl.SSLError):
            self._tls.unwrap()  # queues close_notify; the server's answer is not waited for
        super().write(self._outgoing.read())
        super().close()


def tls_failure_text(exc: BaseException, host: str) -> str:
    """One line on why a TLS connection to ``host`` failed, naming the fix."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        detail = (exc.verify_message or exc.reason or str(exc)).rstrip(".")
        if exc.verify_code in _NAME_MISMATCH_CODES:
            return (
                f"the server's TLS certificate is not valid for {host} ({detail}); use a host name in url "
                "that the certificate names, or set insecure=True in the model config to skip the check"
            )
        return (
            f"the server's TLS certificate is not trusted ({detail}); if it is signed by your own CA (or "
            "self-signed), set ca_cert='/path/to/ca.pem' in the model config or run with "
            "SSL_CERT_FILE=/path/to/ca.pem (the CA's certificate in PEM), or set insecure=True to skip the check"
        )
    if isinstance(exc, TLSHandshakeEOF):
        return "TLS handshake failed (the server closed the connection); check that the server speaks TLS on this port"
    reason = str(getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc).lower().replace("_", " ")
    if "certificate required" in reason:
        return (
            f"the server requires a client certificate ({reason}); set client_cert (and client_key) in "
            "the model config"
        )
    text = f"TLS handshake failed ({reason})"
    if "wrong version" in text or "record layer" in text or "http request" in text:
        text += "; the server does not speak TLS on this port: use http:// in url"
    return text
