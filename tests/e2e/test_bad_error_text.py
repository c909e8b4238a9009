"""Error text is data from the network: a NUL byte, control characters, binary or very long text in
a failed request's error never costs a run its results, live or recalculated (``--reuse``)."""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path

import h5py
import orjson
import pytest

from ais_bench.cli.main import EXIT_PARTIAL, main
from ais_bench.clients.errors import ERROR_TEXT_CHARS
from tests.support.configs import only_run_dir, write_model_config, write_synthetic_dataset
from tests.support.scripted_server import (
    Script,
    ScriptedConnection,
    ScriptedRequest,
    ScriptedServer,
    chunk,
    http_response,
    sse_head,
    stream_chat,
)

#: What the server answers, in turn: each bad answer once, then a good stream.
BAD_ANSWERS = (
    http_response(500, b"internal\x00error", "text/plain"),
    http_response(500, gzip.compress(b"internal error" * 50), "text/plain", "Content-Encoding: gzip"),
    http_response(500, b"\x07\x1b[31mred\x1b[0m " + b"long " * 20000, "text/plain"),
)
ERROR_EVENT = b'data: {"error": {"message": "bad\\u0000event\\u0007", "type": "x\\u0000y"}}\n\n'


def _bad_then_good() -> Script:
    """The first four requests get a bad answer each, the others a good stream."""
    turns = itertools.count()

    async def script(conn: ScriptedConnection, request: ScriptedRequest) -> bool:
        turn = next(turns)
        if turn < len(BAD_ANSWERS):
            await conn.write(BAD_ANSWERS[turn])
        elif turn == len(BAD_ANSWERS):
            await conn.write(sse_head() + chunk(ERROR_EVENT) + chunk(b""))
        else:
            await stream_chat(conn, ["a", "b"])
        return True

    return script


def _run(tmp_path: Path, *extra: str) -> int:
    return main(["--models", "scripted", "--datasets", "tiny", "--num-warmups", "0",
                 "--config-dir", str(tmp_path / "cfg"), "--work-dir", str(tmp_path / "out"), *extra])


def _perf(tmp_path: Path) -> Path:
    return only_run_dir(tmp_path / "out") / "performances" / "scripted"


def _assert_results_complete(perf: Path) -> list[dict]:
    for name in ("tiny.json", "tiny.csv", "tiny_details.jsonl", "tiny_details.h5"):
        assert (perf / name).is_file(), name
    details = [orjson.loads(line) for line in (perf / "tiny_details.jsonl").read_bytes().splitlines()]
    errors = [d["error"] for d in details if not d["success"]]
    assert len(errors) == 4
    assert all(e.isprintable() and len(e) <= ERROR_TEXT_CHARS + 3 for e in errors), errors
    with h5py.File(perf / "tiny_details.h5", "r") as f:
        stored = [m.decode() for m in f["failed_error_message"][()].tolist()]
    assert sorted(stored) == sorted(errors)
    reasons = json.loads((perf / "tiny.json").read_text())["_ais_bench"]["failed_reasons"]
    assert sum(r["count"] for r in reasons) == 4
    return details


def test_nul_and_binary_error_text_keeps_every_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with ScriptedServer(_bad_then_good()) as server:
        write_model_config(tmp_path / "cfg", "scripted", server.port, abbr="scripted", batch_size=1)
        write_synthetic_dataset(tmp_path / "cfg", "tiny", 8)
        assert _run(tmp_path) == EXIT_PARTIAL
    details = _assert_results_complete(_perf(tmp_path))
    errors = [d["error"] for d in details if not d["success"]]
    assert any("internal\\x00error" in e for e in errors)
    assert any("bad\\x00event\\x07" in e for e in errors)
    assert "\x00" not in capsys.readouterr().err


def test_reuse_of_a_run_whose_records_hold_a_nul(tmp_path: Path) -> None:
    """A run folder written before the text was cleaned (NULs in its worker records, no details
    files because the h5 writer crashed) is recalculated."""
    with ScriptedServer(_bad_then_good()) as server:
        write_model_config(tmp_path / "cfg", "scripted", server.port, abbr="scripted", batch_size=1)
        write_synthetic_dataset(tmp_path / "cfg", "tiny", 8)
        assert _run(tmp_path) == EXIT_PARTIAL
    perf = _perf(tmp_path)
    for name in ("tiny.json", "tiny.csv", "tiny_details.jsonl", "tiny_details.h5", "tiny_plot.html"):
        (perf / name).unlink()
    text_file = next((perf / "records").glob("tiny.worker*.jsonl"))
    lines = [orjson.loads(line) for line in text_file.read_bytes().splitlines()]
    for line in lines:
        if line["error_message"]:
            line["error_message"] = "raw\x00text\x01 " + "y" * 5000
    text_file.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    assert _run(tmp_path, "--mode", "perf_viz", "--reuse") == EXIT_PARTIAL  # failed requests, as in the run
    details = _assert_results_complete(perf)
    assert all(d["error"].startswith("raw\\x00text\\x01 yyy") for d in details if not d["success"])
