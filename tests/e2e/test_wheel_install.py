"""Installed as a user installs it: the wheel built with ``python -m build`` (sdist, then the wheel
from the sdist) from a clean copy of the source, ``pip install``-ed into a fresh venv (pip's cache
and configured index, as CI has), then run from a folder outside the source tree. Its built-in
configs, the simulator, the packaged GSM8K files and every other file of the package must come
with it."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO = ("--models", "sim_api_stream_chat", "--datasets", "synthetic_demo", "--summarizer", "stable_stage",
        "--mode", "perf")  # make demo's command
GSM8K_QUICK_START = ("--models", "sim_api_stream_chat", "--datasets", "demo_gsm8k_gen_4_shot_cot_chat_prompt",
                     "--mode", "perf")
#: Generous: pip resolves the dependencies from its cache, but the box may be busy.
INSTALL_TIMEOUT_S = 600
RUN_TIMEOUT_S = 300


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    elsewhere: Path  # a working folder outside the source tree

    @property
    def ais_bench(self) -> Path:
        return self.venv / "bin" / "ais_bench"

    @property
    def ais_bench_sim(self) -> Path:
        return self.venv / "bin" / "ais_bench_sim"


def _user_env() -> dict[str, str]:
    """The environment without what would point the installed tool back at the source tree or data."""
    hidden = {"PYTHONPATH", "VIRTUAL_ENV", "AIS_BENCH_DATA_ROOT"}
    return {key: value for key, value in os.environ.items() if key not in hidden}


def _run(*cmd: str | Path, cwd: Path, timeout_s: float) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(part) for part in cmd], cwd=cwd, env=_user_env(), capture_output=True, text=True,
        timeout=timeout_s, check=False,
    )
    assert result.returncode == 0, f"{cmd} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def _clean_source_copy(source: Path) -> Path:
    """What the build needs (the Dockerfile's context too), without the development install's
    ``src/*.egg-info``: setuptools would take its stale file list into the sdist and hide a data file
    that package-data leaves out."""
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO_ROOT / name, source / name)
    shutil.copytree(REPO_ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return source


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("wheel_install")
    source = _clean_source_copy(base / "source")
    dist = base / "dist"
    _run(sys.executable, "-m", "build", "--outdir", dist, source, cwd=base, timeout_s=INSTALL_TIMEOUT_S)
    (wheel,) = dist.glob("ais_bench-*.whl")
    venv = base / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=base, timeout_s=INSTALL_TIMEOUT_S)
    # --no-compile: byte-compiling every dependency (plotly alone is thousands of files) is most of the
    # install's time on a busy machine and tests nothing of ours.
    _run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--no-compile", wheel, cwd=base,
         timeout_s=INSTALL_TIMEOUT_S)
    elsewhere = base / "elsewhere"
    elsewhere.mkdir()
    return Installed(wheel=wheel, venv=venv, elsewhere=elsewhere)


def _performance_json(work: Path, model_abbr: str, dataset_abbr: str) -> dict[str, dict[str, object]]:
    (path,) = work.glob(f"outputs/default/2*/performances/{model_abbr}/{dataset_abbr}.json")
    data: dict[str, dict[str, object]] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _number(value: object) -> float:
    """A json metric as a number: AISBench writes rates and times as ``"<number> <unit>"`` strings."""
    return float(str(value).split()[0])


def _package_source_files() -> set[str]:
    """Every file of ``src/ais_bench`` (bytecode caches aside) as a path inside the wheel."""
    package = REPO_ROOT / "src" / "ais_bench"
    return {
        f"ais_bench/{path.relative_to(package).as_posix()}"
        for path in package.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_the_wheel_holds_the_configs_the_simulator_and_gsm8k_with_its_license(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    expected = {
        "ais_bench/configs/models/sim/sim_api_stream_chat.py",
        "ais_bench/configs/datasets/synthetic/synthetic_demo.py",
        "ais_bench/configs/summarizers/perf/stable_stage.py",
        "ais_bench/sim/server.py",
        "ais_bench/datasets/gsm8k/test.jsonl",
        "ais_bench/datasets/gsm8k/train.jsonl",
        "ais_bench/datasets/gsm8k/LICENSE",
    }
    assert expected <= names, sorted(expected - names)


def test_every_file_of_the_package_is_in_the_wheel(installed: Installed) -> None:
    # A data file the code reads (a schema, a template) but pyproject.toml's package-data leaves out
    # works in the source tree and fails only once installed.
    missing = _package_source_files() - set(zipfile.ZipFile(installed.wheel).namelist())
    assert not missing, f"not in the wheel (add them to [tool.setuptools.package-data]): {sorted(missing)}"


def test_the_installed_package_is_the_one_that_runs(installed: Installed) -> None:
    result = _run(installed.venv / "bin" / "python", "-c", "import ais_bench; print(ais_bench.__file__)",
                  cwd=installed.elsewhere, timeout_s=RUN_TIMEOUT_S)
    assert Path(result.stdout.strip()).is_relative_to(installed.venv)
    assert _run(installed.ais_bench, "--version", cwd=installed.elsewhere,
                timeout_s=RUN_TIMEOUT_S).stdout.startswith("ais_bench ")


def test_the_demo_runs_from_the_installed_wheel(installed: Installed) -> None:
    work = installed.elsewhere / "demo"
    work.mkdir()
    _run(installed.ais_bench, *DEMO, cwd=work, timeout_s=RUN_TIMEOUT_S)
    common = _performance_json(work, "sim-api-stream-chat", "synthetic")
    assert 0 < _number(common["Success Requests"]["stable"]) <= 200
    assert _number(common["Failed Requests"]["stable"]) == 0
    assert _number(common["Request Throughput"]["stable"]) > 0
    assert _number(common["Output Token Throughput"]["stable"]) > 0
    (csv,) = work.glob("outputs/default/2*/performances/sim-api-stream-chat/synthetic.csv")
    e2el = next(line for line in csv.read_text(encoding="utf-8").splitlines() if line.startswith("E2EL,"))
    assert _number(e2el.split(",")[2]) > 0  # the mean E2EL, "<ms> ms"


def test_the_gsm8k_quick_start_needs_no_download(installed: Installed) -> None:
    work = installed.elsewhere / "gsm8k"
    work.mkdir()
    _run(installed.ais_bench, *GSM8K_QUICK_START, cwd=work, timeout_s=RUN_TIMEOUT_S)
    common = _performance_json(work, "sim-api-stream-chat", "demo_gsm8k")
    assert _number(common["Success Requests"]["total"]) == 8  # the demo's test_range [0:8]
    assert _number(common["Total Input Tokens"]["total"]) > 0


def test_the_one_command_form_runs_from_the_installed_wheel(installed: Installed) -> None:
    """Issue 18's bare-install command: no config file, the installed simulator as the server."""
    server = subprocess.Popen(
        [str(installed.ais_bench_sim), "--port", "0"], cwd=installed.elsewhere, env=_user_env(),
        stderr=subprocess.PIPE, text=True,
    )
    try:
        assert server.stderr is not None
        announced = re.fullmatch(r"serving on (http://127\.0\.0\.1:\d+)\n", server.stderr.readline())
        assert announced, "the installed ais_bench_sim did not say where it serves"
        work = installed.elsewhere / "url"
        work.mkdir()
        _run(installed.ais_bench, "--url", announced.group(1), "--concurrency", "4", "--isl", "16", "--osl", "8",
             "--num-prompts", "20", "--mode", "perf", cwd=work, timeout_s=RUN_TIMEOUT_S)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=RUN_TIMEOUT_S)
    common = _performance_json(work, "vllm-api-stream-chat", "synthetic")
    assert _number(common["Success Requests"]["total"]) == 20
    assert _number(common["Total Generated Tokens"]["total"]) == 20 * 8  # --osl 8 with ignore_eos
