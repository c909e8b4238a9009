from __future__ import annotations

import pytest

from ais_bench.config.global_consts import DEFAULT_PATH, ENV_VAR, load_global_consts
from ais_bench.errors import ConfigError


def test_default_file(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    g = load_global_consts()
    assert (g.workers_num, g.max_chunk_size_bytes, g.request_time_out_s, g.log_level) == (
        0,
        65536,
        None,
        "INFO",
    )
    assert g.warnings == ()
    assert DEFAULT_PATH.name == "global_consts.py" and DEFAULT_PATH.parent.name == "benchmark"


def test_env_var_points_to_other_file(write, monkeypatch):
    path = write("gc.py", "WORKERS_NUM = 3\nREQUEST_TIME_OUT = 30\nLOG_LEVEL = 'debug'\n")
    monkeypatch.setenv(ENV_VAR, str(path))
    g = load_global_consts()
    assert (g.workers_num, g.request_time_out_s, g.log_level) == (3, 30.0, "DEBUG")


def test_request_time_out_zero_is_no_limit(write, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(write("gc.py", "REQUEST_TIME_OUT = 0\n")))
    assert load_global_consts().request_time_out_s is None


def test_original_aisbench_file_style(write):
    text = (
        "WORKERS_NUM = 4\nMAX_CHUNK_SIZE = 2**16\nREQUEST_TIME_OUT = None\n\n"
        "from logging import DEBUG, INFO, WARNING, ERROR, CRITICAL\nLOG_LEVEL = INFO\n"
    )
    g = load_global_consts(write("gc.py", text))
    assert (g.workers_num, g.max_chunk_size_bytes, g.log_level, g.warnings) == (4, 65536, "INFO", ())


@pytest.mark.parametrize("chunk", [0, 2**24 + 1, "big", 1.5])
def test_max_chunk_size_out_of_range_falls_back_with_warning(write, chunk):
    g = load_global_consts(write("gc.py", f"MAX_CHUNK_SIZE = {chunk!r}\n"))
    assert g.max_chunk_size_bytes == 65536
    assert len(g.warnings) == 1 and "MAX_CHUNK_SIZE" in g.warnings[0] and "using 65536" in g.warnings[0]


def test_max_chunk_size_bounds(write):
    assert load_global_consts(write("a.py", "MAX_CHUNK_SIZE = 1\n")).max_chunk_size_bytes == 1
    assert load_global_consts(write("b.py", "MAX_CHUNK_SIZE = 2**24\n")).max_chunk_size_bytes == 2**24


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("WORKERS_NUM = -1", "WORKERS_NUM = -1 is not allowed: expected an integer >= 0"),
        ("WORKERS_NUM = 1.5", "WORKERS_NUM = 1.5 is not allowed: expected an integer >= 0"),
        ("REQUEST_TIME_OUT = -1", "REQUEST_TIME_OUT = -1 is not allowed: expected a number in [0, 86400]"),
        (
            "REQUEST_TIME_OUT = 86401",
            "REQUEST_TIME_OUT = 86401 is not allowed: expected a number in [0, 86400]",
        ),
        (
            "LOG_LEVEL = 'LOUD'",
            "LOG_LEVEL = 'LOUD' is not allowed: expected one of DEBUG, INFO, WARNING, ERROR",
        ),
    ],
)
def test_wrong_values(write, text, message):
    with pytest.raises(ConfigError) as info:
        load_global_consts(write("gc.py", text + "\n"))
    assert message in info.value.message and "\n" not in info.value.message


def test_unknown_and_legacy_names_warn(write):
    g = load_global_consts(write("gc.py", "WORKER_NUM = 2\nPRESSURE_TIME = 30\nCONNECTION_ADD_RATE = 2\n"))
    assert g.pressure_time_s == 30 and g.connection_add_rate == 2.0
    text = "\n".join(g.warnings)
    assert "did you mean 'WORKERS_NUM'" in text and "PRESSURE_TIME is deprecated" in text
    assert "CONNECTION_ADD_RATE is deprecated" in text
