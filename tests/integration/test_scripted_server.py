"""The scripted server of tests/support answers a real CLI run and logs what it saw."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ais_bench.cli.main import main
from tests.support.configs import only_run_dir, write_model_config, write_synthetic_dataset
from tests.support.scripted_server import ScriptedConnection, ScriptedRequest, ScriptedServer, stream_chat


async def _three_tokens(conn: ScriptedConnection, request: ScriptedRequest) -> bool:
    await stream_chat(conn, ["a", "b", "c"])
    return True


def test_a_cli_run_against_the_scripted_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with ScriptedServer(_three_tokens, max_connections=2) as server:
        write_model_config(tmp_path / "cfg", "scripted", server.port, abbr="scripted", batch_size=2)
        write_synthetic_dataset(tmp_path / "cfg", "tiny", 6)
        code = main(["--models", "scripted", "--datasets", "tiny", "--mode", "perf", "--num-warmups", "0",
                     "--config-dir", str(tmp_path / "cfg"), "--work-dir", str(tmp_path / "out")])
        log = server.snapshot()
    assert code == 0
    posts = [r for r in log.requests if r.method == "POST"]
    assert len(posts) == 6
    assert all(r.path == "/v1/chat/completions" and r.json()["stream"] is True for r in posts)
    assert log.max_connections_open <= 2
    perf = only_run_dir(tmp_path / "out") / "performances" / "scripted"
    common = json.loads((perf / "tiny.json").read_text())
    assert common["Success Requests"]["total"] == 6
