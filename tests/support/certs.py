"""Test certificates made with the ``openssl`` command (tests that use them skip where it is absent)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def make_self_signed(folder: Path, name: str = "127.0.0.1") -> tuple[Path, Path]:
    """A self-signed certificate for ``name`` (an IP address or a DNS name) and its key, written to
    ``folder``: (cert.pem, key.pem)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    kind = "IP" if name.replace(".", "").isdigit() else "DNS"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={name}",
         "-addext", f"subjectAltName={kind}:{name}"],
        check=True, capture_output=True,
    )
    return cert, key
