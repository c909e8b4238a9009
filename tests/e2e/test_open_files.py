"""The open-file limit and batch_size (issue 14, item 3): the CLI raises a low soft RLIMIT_NOFILE
to what batch_size needs, refuses in one line before sending when even the hard limit is too low,
and a socket that still cannot be opened fails its request instead of killing the worker."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.configs import only_run_dir, write_model_config, write_synthetic_dataset
from tests.support.paths import REPO_ROOT
from tests.support.scripted_server import ScriptedConnection, ScriptedRequest, ScriptedServer, stream_chat

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_NOFILE as on Linux")

BATCH = 100


async def _two_tokens(conn: ScriptedConnection, request: ScriptedRequest) -> bool:
    await stream_chat(conn, ["a", "b"])
    return True


def _run_cli(tmp_path: Path, port: int, soft: int, hard: int, requests: int) -> subprocess.CompletedProcess[str]:
    write_model_config(tmp_path / "cfg", "many", port, batch_size=BATCH)
    write_synthetic_dataset(tmp_path / "cfg", "tiny", requests)

    def limit_open_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    return subprocess.run(
        [sys.executable, "-m", "ais_bench.cli.main", "--models", "many", "--datasets", "tiny", "--mode", "perf",
         "--num-warmups", "0", "--config-dir", str(tmp_path / "cfg"), "--work-dir", str(tmp_path / "out")],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, preexec_fn=limit_open_files, check=False,
    )


def _posts(server: ScriptedServer) -> int:
    return sum(1 for r in server.snapshot().requests if r.method == "POST")


def test_a_hard_limit_too_low_for_batch_size_is_refused_in_one_line_before_sending(tmp_path: Path):
    with ScriptedServer(_two_tokens) as server:
        result = _run_cli(tmp_path, server.port, 64, 64, 10)
        posts = _posts(server)
    assert result.returncode == 2, result.stderr
    errors = [line[line.index("[AIS-"):] for line in result.stderr.splitlines() if "[AIS-" in line]
    assert errors == [
        f"[AIS-CONFIG] batch_size {BATCH} needs about {BATCH + 128} open files per process ({BATCH} "
        "connections + 128), but this shell's hard limit is 64 -- raise it (ulimit -Hn, or nofile in "
        "/etc/security/limits.conf), lower batch_size, or spread the connections over more worker processes "
        "(WORKERS_NUM); see docs/troubleshooting.md#the-server"
    ]
    assert "Traceback" not in result.stderr
    assert posts == 0


def test_a_soft_limit_too_low_for_batch_size_is_raised_and_the_run_completes(tmp_path: Path):
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 4 * BATCH:
        pytest.skip(f"the hard open-file limit here ({hard}) is too low for this test")
    with ScriptedServer(_two_tokens) as server:
        result = _run_cli(tmp_path, server.port, 64, 4 * BATCH, 3 * BATCH)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    perf = only_run_dir(tmp_path / "out") / "performances" / "many"
    common = json.loads((perf / "tiny.json").read_text())
    assert common["Success Requests"]["total"] == 3 * BATCH


#: Runs in a child process: the soft limit leaves room for a few sockets only; 30 requests at once.
_EMFILE_SCRIPT = textwrap.dedent("""
    import asyncio, os, resource, sys
    from ais_bench.clients.backends import OPENAI_CHAT, backend_for
    from ais_bench.clients.http1 import ConnectionPool, Endpoint
    from ais_bench.engine.request import send_request

    url = sys.argv[1]

    async def main():
        pool = ConnectionPool(Endpoint.of(url, {}), False, 30.0)
        await asyncio.sleep(0)
        in_use = len(os.listdir("/proc/self/fd"))
        resource.setrlimit(resource.RLIMIT_NOFILE, (in_use + 5, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
        body = b'{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}'
        spec = backend_for(OPENAI_CHAT)
        results = await asyncio.gather(*(send_request(pool, spec, url, body, True, 0, 65536) for _ in range(30)))
        pool.close()
        for attempt, _ in results:
            print(attempt.error_kind, "|", attempt.error_message)

    asyncio.run(main())
""")


def test_running_out_of_file_descriptors_fails_requests_not_the_process(tmp_path: Path):
    async def slow(conn: ScriptedConnection, request: ScriptedRequest) -> bool:
        await stream_chat(conn, ["a", "b"], gap_s=0.2)  # keeps each connection busy a while
        return True

    with ScriptedServer(slow) as server:
        result = subprocess.run(
            [sys.executable, "-c", _EMFILE_SCRIPT, server.base_url + "v1/chat/completions"],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False,
        )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 30
    ok = [line for line in lines if line.startswith("None |")]
    refused = [line for line in lines if not line.startswith("None |")]
    assert ok and refused
    for line in refused:
        assert line.startswith("connect | cannot reach http://127.0.0.1:"), line
        assert "cannot open a socket: too many open files (open-file limit of this process: soft " in line
        assert "lower batch_size or raise ulimit -n" in line
