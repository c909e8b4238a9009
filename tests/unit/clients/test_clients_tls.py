"""The TLS context of the model config's fields (``clients/tls.py``): a file that cannot be loaded is
named in one line; the defaults are the standard library's checks."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from ais_bench.clients.tls import DEFAULT_TLS, TLSOptions, TLSSetupError, build_tls_context


def test_the_default_context_checks_the_certificate_and_the_host_name():
    context = build_tls_context(DEFAULT_TLS)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname


def test_insecure_checks_neither():
    context = build_tls_context(TLSOptions(insecure=True))
    assert context.verify_mode == ssl.CERT_NONE
    assert not context.check_hostname


def test_a_ca_cert_that_is_not_a_certificate_is_named(tmp_path: Path):
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(TLSSetupError) as info:
        build_tls_context(TLSOptions(ca_cert=str(bad)))
    message = str(info.value)
    assert message.startswith(f"cannot load ca_cert {bad}: ")
    assert "\n" not in message


def test_a_client_cert_that_cannot_be_loaded_names_both_files(tmp_path: Path):
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    cert.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    key.write_text("x")
    with pytest.raises(TLSSetupError) as info:
        build_tls_context(TLSOptions(client_cert=str(cert), client_key=str(key)))
    assert str(info.value).startswith(f"cannot load client_cert/client_key ({cert} and {key}): ")


def test_a_missing_file_says_so(tmp_path: Path):
    with pytest.raises(TLSSetupError) as info:
        build_tls_context(TLSOptions(ca_cert=str(tmp_path / "gone.pem")))
    assert str(info.value) == f"cannot load ca_cert {tmp_path / 'gone.pem'}: no such file or directory"
