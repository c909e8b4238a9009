"""A run against an ``https://`` server whose certificate nothing vouches for: ``insecure=True`` lets
model discovery, the warm-up and the load through, with one warning line (issue 17)."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.certs import make_self_signed
from tests.support.configs import only_run_dir, write_model_config, write_synthetic_dataset
from tests.support.paths import REPO_ROOT
from tests.support.scripted_server import ScriptedConnection, ScriptedRequest, ScriptedServer, stream_chat

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


async def _two_tokens(conn: ScriptedConnection, request: ScriptedRequest) -> bool:
    await stream_chat(conn, ["a", "b"])
    return True


def _self_signed_context(folder: Path) -> ssl.SSLContext:
    cert, key = make_self_signed(folder, "elsewhere.invalid")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def test_insecure_runs_against_an_unverifiable_server_with_one_warning(tmp_path: Path):
    with ScriptedServer(_two_tokens, ssl_context=_self_signed_context(tmp_path)) as server:
        write_model_config(tmp_path / "cfg", "tls", server.port, url=server.base_url, model="", insecure=True)
        write_synthetic_dataset(tmp_path / "cfg", "tiny", 4)
        result = subprocess.run(
            [sys.executable, "-m", "ais_bench.cli.main", "--models", "tls", "--datasets", "tiny", "--mode", "perf",
             "--config-dir", str(tmp_path / "cfg"), "--work-dir", str(tmp_path / "out")],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False,
        )
        posts = [r for r in server.snapshot().requests if r.method == "POST"]
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "insecure=True" in line]
    assert len(warnings) == 1
    assert warnings[0].endswith(f"the TLS certificate of {server.base_url}v1/chat/completions is not checked "
                                "(anyone on the way can pose as it)")
    assert len(posts) == 5  # one warm-up request and the load
    assert {r.json()["model"] for r in posts} == {"scripted-model"}  # discovered over https
    common = json.loads((only_run_dir(tmp_path / "out") / "performances" / "tls" / "tiny.json").read_text())
    assert common["Success Requests"]["total"] == 4
