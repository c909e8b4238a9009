"""The model's ``api_key`` reaches the server and nothing else: no file of the run folder (configs,
logs, details jsonl/h5, worker records), no terminal output, no error message, also with ``--debug``."""

from __future__ import annotations

import itertools
import socket
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np

from tests.support.configs import only_run_dir, write_model_config, write_synthetic_dataset
from tests.support.fixed_server import FixedServer, FixedTiming
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

KEY = "sk-ais-bench-TOP-SECRET-4f1c9d2e"


def _ais_bench(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    models = [] if "--models" in extra else ["--models", "keyed"]
    args = [*models, "--datasets", "tiny", "--mode", "perf", "--num-warmups", "1", *extra]
    return subprocess.run(
        [sys.executable, "-m", "ais_bench.cli.main", *args],
        cwd=tmp_path, capture_output=True, text=True, timeout=180,
    )


def _h5_texts(path: Path) -> list[str]:
    """Every attribute and string/bytes dataset of an HDF5 file, decoded (datasets may be compressed)."""
    texts: list[str] = []

    def visit(_name: str, obj: object) -> None:
        for value in obj.attrs.values():  # type: ignore[attr-defined]
            texts.append(repr(value))
        if isinstance(obj, h5py.Dataset) and obj.dtype.kind in "SOUV":
            texts.append(repr(np.asarray(obj[()]).tolist()))

    with h5py.File(path, "r") as handle:
        for value in handle.attrs.values():
            texts.append(repr(value))
        handle.visititems(visit)
    return texts


def _assert_key_nowhere(folder: Path) -> list[Path]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    for path in files:
        assert KEY.encode() not in path.read_bytes(), f"api_key found in {path}"
        if path.suffix == ".h5":
            assert not any(KEY in text for text in _h5_texts(path)), f"api_key found inside {path}"
    return files


def test_api_key_only_reaches_the_server(tmp_path: Path) -> None:
    with FixedServer(FixedTiming(ttft_s=0.01, itl_s=0.005)) as server:
        write_model_config(tmp_path / "configs", "keyed", server.port, api_key=KEY)
        write_synthetic_dataset(tmp_path / "configs", "tiny", 6)
        result = _ais_bench(tmp_path)
        assert result.returncode == 0, result.stderr
        assert server.log.headers and all(h["Authorization"] == f"Bearer {KEY}" for h in server.log.headers)
    assert KEY not in result.stdout and KEY not in result.stderr
    run_dir = only_run_dir(tmp_path / "outputs" / "default")
    files = _assert_key_nowhere(run_dir)
    names = {p.name for p in files}
    assert "ais_bench.log" in names and "tiny_details.jsonl" in names and "tiny_details.h5" in names
    assert any(p.parent.name == "records" and p.name.endswith(".rows") for p in files)  # worker records
    assert any(p.parent.name == "configs" for p in files)  # the config dump
    dump = next(p for p in files if p.parent.name == "configs").read_text()
    assert "'api_key': '***'" in dump


def test_api_key_not_in_debug_output_or_records(tmp_path: Path) -> None:
    with FixedServer(FixedTiming(ttft_s=0.01, itl_s=0.005)) as server:
        write_model_config(tmp_path / "configs", "keyed", server.port, api_key=KEY)
        write_synthetic_dataset(tmp_path / "configs", "tiny", 4)
        result = _ais_bench(tmp_path, "--debug", "--dump-text")
        assert result.returncode == 0, result.stderr
    assert KEY not in result.stdout and KEY not in result.stderr
    _assert_key_nowhere(tmp_path / "outputs")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_api_key_not_in_errors_of_an_unreachable_server(tmp_path: Path) -> None:
    write_model_config(tmp_path / "configs", "keyed", _free_port(), api_key=KEY)
    write_synthetic_dataset(tmp_path / "configs", "tiny", 2)
    for extra in ((), ("--debug",)):
        result = _ais_bench(tmp_path, *extra)
        assert result.returncode != 0
        assert "cannot reach" in result.stderr
        assert ("Traceback" in result.stderr) == bool(extra)
        assert KEY not in result.stdout and KEY not in result.stderr
    _assert_key_nowhere(tmp_path / "outputs")


def test_api_key_not_in_config_errors(tmp_path: Path) -> None:
    # A wrong value next to the key, and a key of the wrong type: the error names the field, not the key.
    write_model_config(tmp_path / "configs", "keyed", 8080, api_key=KEY, batch_size=0)
    write_model_config(tmp_path / "configs", "bytes_key", 8080, api_key=KEY.encode())
    write_synthetic_dataset(tmp_path / "configs", "tiny", 2)
    for model, field in (("keyed", "batch_size"), ("bytes_key", "api_key")):
        for extra in ((), ("--debug",)):
            result = subprocess.run(
                [sys.executable, "-m", "ais_bench.cli.main", "--models", model, "--datasets", "tiny", *extra],
                cwd=tmp_path, capture_output=True, text=True, timeout=120,
            )
            assert result.returncode != 0 and field in result.stderr
            assert KEY not in result.stdout and KEY not in result.stderr


PASSWORD = "pw-ais-bench-HIDDEN-77"


def _echo_secrets() -> Script:
    """A server that echoes the request's Authorization header back: in a 401 body (the warm-up
    request), in an error event of a stream, in an HTTP 500 body, then in the generated text."""
    turns = itertools.count()

    async def script(conn: ScriptedConnection, request: ScriptedRequest) -> bool:
        auth = request.headers.get("authorization", "").encode()
        turn = next(turns)
        if turn == 0:
            await conn.write(http_response(401, b'{"error": {"message": "bad credentials: ' + auth + b'"}}'))
        elif turn == 1:
            event = b'data: {"error": {"message": "rejected header Authorization: ' + auth + b'"}}\n\n'
            await conn.write(sse_head() + chunk(event) + chunk(b""))
        elif turn == 2:
            await conn.write(http_response(500, b"upstream said " + auth, "text/plain"))
        else:
            await stream_chat(conn, ["you sent ", auth.decode()])  # generated text echoing the key
        return True

    return script


def _assert_secrets_nowhere(tmp_path: Path, results: list[subprocess.CompletedProcess[str]]) -> list[Path]:
    for result in results:
        assert KEY not in result.stdout + result.stderr and PASSWORD not in result.stdout + result.stderr
    outputs = tmp_path / "outputs" / "default"
    _assert_key_nowhere(outputs)
    files = [p for p in outputs.rglob("*") if p.is_file()]
    assert not any(PASSWORD.encode() in p.read_bytes() for p in files)
    assert not any(PASSWORD in text for p in files if p.suffix == ".h5" for text in _h5_texts(p))
    return files


def test_an_api_key_echoed_by_the_server_is_redacted_everywhere(tmp_path: Path) -> None:
    with ScriptedServer(_echo_secrets()) as server:
        write_model_config(tmp_path / "configs", "keyed", server.port, api_key=KEY)
        write_synthetic_dataset(tmp_path / "configs", "tiny", 6)
        warm = _ais_bench(tmp_path)  # the warm-up request gets the 401 that echoes the key
        loaded = _ais_bench(tmp_path, "--num-warmups", "0", "--debug", "--dump-text")
        echoed = [r.headers["authorization"] for r in server.snapshot().requests if r.method == "POST"]
    assert len(echoed) == 7 and all(header == f"Bearer {KEY}" for header in echoed)
    assert warm.returncode == 2 and "bad credentials: ***" in warm.stderr
    assert loaded.returncode == 3, loaded.stderr
    assert "upstream said ***" in loaded.stderr
    files = _assert_secrets_nowhere(tmp_path, [warm, loaded])
    details = next(p for p in files if p.name == "tiny_details.jsonl").read_text()
    assert "rejected header Authorization: ***" in details and "upstream said ***" in details
    assert '"output":"you sent ***"' in details


def test_a_url_password_is_never_shown(tmp_path: Path) -> None:
    """``http://user:password@host``: the password (and the Basic credentials an HTTP client makes
    of it, echoed by the server) is shown as ``***`` in the log, the config dump and the h5 file."""
    with ScriptedServer(_echo_secrets()) as server:
        url = f"http://bench:{PASSWORD}@127.0.0.1:{server.port}/"
        write_model_config(tmp_path / "configs", "pw", server.port, url=url)
        write_synthetic_dataset(tmp_path / "configs", "tiny", 6)
        warm = _ais_bench(tmp_path, "--models", "pw")
        loaded = _ais_bench(tmp_path, "--models", "pw", "--num-warmups", "0")
    assert warm.returncode == 2 and "bad credentials: Basic ***" in warm.stderr
    assert loaded.returncode == 3, loaded.stderr
    shown = f"bench:***@127.0.0.1:{server.port}"
    assert shown in loaded.stderr
    files = _assert_secrets_nowhere(tmp_path, [warm, loaded])
    assert all(shown in p.read_text() for p in files if p.parent.name == "configs")
    h5_config = [t for p in files if p.suffix == ".h5" for t in _h5_texts(p) if "models" in t]
    assert h5_config and shown in h5_config[0]


TOKEN = "tok-ais-bench-HEADER-SECRET-9a7b"
FLAG_KEY = "key-ais-bench-FLAG-SECRET-31c5"


def test_custom_headers_reach_discovery_warm_up_and_load_and_a_secret_one_nowhere_else(tmp_path: Path) -> None:
    """``headers=`` of the config and ``--header`` flags (which win by name) are sent on the model list
    request, the warm-up and every load request; the secret-looking ones (``X-Auth-Token`` of the
    config, echoed back in the generated text, and ``X-Api-Key`` of a flag) are ``***`` in every file
    of the run folder (the config dump's ``headers`` and ``cli_args`` included) and on the terminal."""

    async def echo_token(conn: ScriptedConnection, request: ScriptedRequest) -> bool:
        await stream_chat(conn, ["you sent ", request.headers.get("x-auth-token", "")])
        return True

    with ScriptedServer(echo_token) as server:
        headers = {"X-Auth-Token": TOKEN, "X-Tenant": "blue", "X-Keep": "kept"}
        write_model_config(tmp_path / "configs", "keyed", server.port, model="", headers=headers)
        write_synthetic_dataset(tmp_path / "configs", "tiny", 5)
        result = _ais_bench(
            tmp_path, "--num-warmups", "2", "--dump-text", "--debug",
            "--header", "x-tenant: red", "--header", "X-Flag: on", "--header", f"X-Api-Key: {FLAG_KEY}",
        )
        requests = server.snapshot().requests
    assert result.returncode == 0, result.stderr
    assert [r.method for r in requests].count("GET") == 1 and requests[0].path.endswith("/v1/models")
    assert [r.method for r in requests].count("POST") == 2 + 5  # warm-up, then the load
    for request in requests:
        names = ("x-auth-token", "x-tenant", "x-keep", "x-flag", "x-api-key")
        sent = {name: request.headers.get(name) for name in names}
        assert sent == {
            "x-auth-token": TOKEN, "x-tenant": "red", "x-keep": "kept", "x-flag": "on", "x-api-key": FLAG_KEY
        }, request
    assert TOKEN not in result.stdout + result.stderr and FLAG_KEY not in result.stdout + result.stderr
    run_dir = only_run_dir(tmp_path / "outputs" / "default")
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    for path in files:
        for secret in (TOKEN, FLAG_KEY):
            assert secret.encode() not in path.read_bytes(), f"a header's secret found in {path}"
            if path.suffix == ".h5":
                assert not any(secret in text for text in _h5_texts(path)), f"a header's secret found inside {path}"
    assert '"output":"you sent ***"' in next(p for p in files if p.name == "tiny_details.jsonl").read_text()
    dump = next(p for p in files if p.parent.name == "configs").read_text()
    assert "'X-Auth-Token': '***'" in dump and "'x-tenant': 'red'" in dump
    assert "'X-Api-Key: ***'" in dump  # the flag, in cli_args
