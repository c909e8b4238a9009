"""Random config values never crash the validators: only the tool's own errors escape.

Each test starts from a valid config, applies a few random mutations anywhere in it (replace a value
by a random one of any type, drop a key, add a random or near-miss key) and asserts that validation
either succeeds or raises an ``AisBenchError`` whose ``one_line()`` is a single line. Any other
exception (TypeError, KeyError, ValueError, AttributeError, OverflowError, ...) fails the test.
"""

from __future__ import annotations

import copy
import math
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ais_bench.benchmark.datasets import (
    CustomDataset,
    GSM8KDataset,
    MooncakeTraceDataset,
    ShareGPTDataset,
    SyntheticDataset,
)
from ais_bench.benchmark.models import AISBENCH_BACKENDS, VLLMCustomAPIChat
from ais_bench.config.datasets import build_datasets, load_datasets, validate_dataset
from ais_bench.config.global_consts import build_global_consts, load_global_consts
from ais_bench.config.loader import load_config_file
from ais_bench.config.models import build_models, load_models, validate_model
from ais_bench.config.run_config import load_run_config
from ais_bench.config.summarizers import build_summarizer, load_summarizer
from ais_bench.errors import AisBenchError
from ais_bench.sim.config import SimConfig
from tests.support.examples import examples

SRC = "configs/x.py"
#: Examples per fuzz test; raise it for a longer hunt (``AIS_BENCH_FUZZ_EXAMPLES=5000 pytest ...``).
_ASKED = os.environ.get("AIS_BENCH_FUZZ_EXAMPLES")
EXAMPLES = int(_ASKED) if _ASKED else examples(150)
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

# --- random values -------------------------------------------------------------------------------

_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.sampled_from([0, -1, 1, 2**31, 2**63, -(2**63), 10**20, 10**400, 10**4000]),
    st.floats(),  # includes nan, inf, -inf, -0.0, subnormals
    st.sampled_from([1e308, -1e308, 5e-324, float("nan"), float("inf")]),
    st.text(max_size=12),
    st.sampled_from(["", " ", "\x00", "a\nb", "~nosuchuser/x", "../..", "/", "[0:8]", "[::0]", "http://[::1"]),
    st.binary(max_size=4),
    st.sampled_from([int, object, dict, print, VLLMCustomAPIChat, GSM8KDataset, Ellipsis]),
)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(st.one_of(st.text(max_size=8), st.integers(), st.none()), children, max_size=4),
        st.frozensets(st.integers(), max_size=3),
    )


VALUES = st.recursive(_leaves, _containers, max_leaves=8)


def _near_misses(names: list[str]) -> st.SearchStrategy[str]:
    """Real field names with one character dropped, doubled or the case changed."""

    @st.composite
    def near(draw: st.DrawFn) -> str:
        name = draw(st.sampled_from(names))
        if not name:
            return "x"
        i = draw(st.integers(0, len(name) - 1))
        how = draw(st.sampled_from(["drop", "double", "case", "suffix"]))
        if how == "drop":
            return name[:i] + name[i + 1 :]
        if how == "double":
            return name[:i] + name[i] + name[i:]
        if how == "case":
            return name.swapcase()
        return name + "s"

    return near()


# --- valid starting points -----------------------------------------------------------------------

_LENGTH = {"Method": "uniform", "Params": {"MinValue": 1, "MaxValue": 8}}
_GAUSS = {"Method": "gaussian", "Params": {"MinValue": 1, "MaxValue": 8, "Mean": 4, "Var": 2}}
_ZIPF = {"Method": "zipf", "Params": {"MinValue": 1, "MaxValue": 8, "Alpha": 2.0}}

MODEL = {
    "attr": "service", "type": VLLMCustomAPIChat, "abbr": "m", "path": "", "model": "", "model_name": "",
    "request_rate": 1.5, "use_timestamp": False, "retry": 2, "api_key": "k", "host_ip": "127.0.0.1",
    "host_port": 8080, "url": "", "enable_ssl": False, "max_out_len": 16, "batch_size": 2, "stream": True,
    "trust_remote_code": False, "seed": 1,
    "generation_kwargs": {"temperature": 0.5, "top_k": 10, "ignore_eos": True, "stop": ["a"]},
    "traffic_cfg": {"burstiness": 1.0, "ramp_up_strategy": "linear", "ramp_up_start_rps": 1, "ramp_up_end_rps": 4},
    "simulator": {"max_num_seqs": 4, "decode_base_ms": 1.0, "fail_rate": 0.1, "fail_status": 503},
}
DATASETS = [
    {
        "abbr": "gsm8k", "type": GSM8KDataset, "path": "gsm8k",
        "reader_cfg": {"input_columns": ["question"], "output_column": "answer", "test_range": "[0:8]"},
        "infer_cfg": {
            "prompt_template": {"template": {"begin": [{"role": "SYSTEM", "prompt": "s"}],
                                             "round": [{"role": "HUMAN", "prompt": "{question}"}]}},
            "inferencer": {"infer_mode": "every"},
        },
    },
    {"abbr": "s", "type": SyntheticDataset, "seed": 3,
     "config": {"Type": "string", "RequestCount": 4, "StringConfig": {"Input": _GAUSS, "Output": _ZIPF}}},
    {"abbr": "s2", "type": SyntheticDataset,
     "config": {"Type": "string", "RequestCount": 4, "StringConfig": {"Input": _LENGTH, "Output": _LENGTH}}},
    {"abbr": "t", "type": SyntheticDataset, "seed": 0,
     "config": {"Type": "tokenid", "RequestCount": 4, "TokenIdConfig": {"RequestSize": 8, "PrefixLen": 2}}},
    {"abbr": "sg", "type": ShareGPTDataset, "path": "x.json", "disable_shuffle": False, "seed": 1,
     "infer_cfg": {"inferencer": {"infer_mode": "last"}}},
    {"abbr": "c", "type": CustomDataset, "path": "/tmp/x.jsonl"},
    {"abbr": "mc", "type": MooncakeTraceDataset, "path": "t.jsonl", "random_seed": 0, "block_size": 512,
     "fixed_schedule_auto_offset": True, "fixed_schedule_start_offset": 0, "fixed_schedule_end_offset": -1},
]
SUMMARIZER = {
    "attr": "performance", "type": "DefaultPerfSummarizer",
    "calculator": {"type": "StablePerfMetricCalculator", "stats_list": ["Average", "P90"]},
}
CONSTS = {"WORKERS_NUM": 2, "MAX_CHUNK_SIZE": 1024, "REQUEST_TIME_OUT": 30, "LOG_LEVEL": "INFO",
          "PRESSURE_TIME": 10, "CONNECTION_ADD_RATE": 2.0}
SIM = {"model_name": "m", "max_num_seqs": 4, "prefill_base_ms": 1.0, "prefill_per_token_ms": 0.0,
       "decode_base_ms": 1.0, "decode_per_seq_ms": 0.1, "seed": 0, "default_max_tokens": 8,
       "output_len_dist": "max", "tokenizer_path": None, "fail_rate": 0.1, "fail_status": 500,
       "reset_rate": 0.1, "stall_rate": 0.1, "stall_s": 0.5, "malformed_rate": 0.1, "record_truth_path": None}


def _all_keys(value: Any) -> list[str]:
    out: list[str] = []
    if isinstance(value, dict):
        for key, sub in value.items():
            out += [str(key), *_all_keys(sub)]
    elif isinstance(value, (list, tuple)):
        for sub in value:
            out += _all_keys(sub)
    return out


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> Any:
    """``base`` (deep-copied) with 1-3 random mutations at random depths."""
    value = copy.deepcopy(base)
    keys = _all_keys(base) or ["x"]
    new_keys = st.one_of(_near_misses(keys), st.text(max_size=8), st.integers(), st.sampled_from(keys))
    for _ in range(draw(st.integers(1, 3))):
        node = value
        # walk down a random number of levels into dicts and lists
        for _depth in range(draw(st.integers(0, 4))):
            if isinstance(node, dict) and node:
                child = node[draw(st.sampled_from(sorted(node, key=repr)))]
            elif isinstance(node, list) and node:
                child = node[draw(st.integers(0, len(node) - 1))]
            else:
                break
            if not isinstance(child, (dict, list)):
                break
            node = child
        action = draw(st.sampled_from(["replace", "replace", "drop", "add"]))
        if isinstance(node, dict):
            if action == "drop" and node:
                del node[draw(st.sampled_from(sorted(node, key=repr)))]
            elif action == "add" or not node:
                node[draw(new_keys)] = draw(VALUES)
            else:
                node[draw(st.sampled_from(sorted(node, key=repr)))] = draw(VALUES)
        elif isinstance(node, list) and node:
            node[draw(st.integers(0, len(node) - 1))] = draw(VALUES)
        else:
            return draw(VALUES)  # the whole value replaced
    return value


def only_own_errors(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn``; an ``AisBenchError`` (one line) is fine, anything else fails the test."""
    try:
        return fn(*args, **kwargs)
    except AisBenchError as exc:
        text = exc.one_line()
        assert "\n" not in text and "\r" not in text, text
        return exc


# --- the fuzz tests ------------------------------------------------------------------------------


@FUZZ
@given(mutated(MODEL))
def test_validate_model_raises_only_config_errors(entry: Any) -> None:
    out = only_own_errors(validate_model, entry, SRC)
    if not isinstance(out, AisBenchError):
        assert math.isfinite(out.request_rate) and out.batch_size >= 1 and out.max_out_len >= 1


def test_a_key_with_a_line_break_inside_generation_kwargs_is_named_on_one_line() -> None:
    entry = {**MODEL, "generation_kwargs": {"ignore_eos": {"\r": b""}}}
    error = only_own_errors(validate_model, entry, SRC)
    assert isinstance(error, AisBenchError)
    assert "generation_kwargs.ignore_eos.\\r = b''" in error.one_line()


@FUZZ
@given(mutated([MODEL]))
def test_build_models_raises_only_config_errors(entries: Any) -> None:
    only_own_errors(build_models, entries, SRC)


@FUZZ
@given(st.sampled_from(DATASETS).flatmap(mutated))
def test_validate_dataset_raises_only_config_errors(entry: Any) -> None:
    only_own_errors(validate_dataset, entry, SRC)


@FUZZ
@given(mutated(DATASETS))
def test_build_datasets_raises_only_config_errors(entries: Any) -> None:
    only_own_errors(build_datasets, entries, SRC)


@FUZZ
@given(st.one_of(mutated(SUMMARIZER), VALUES))
def test_build_summarizer_raises_only_config_errors(value: Any) -> None:
    out = only_own_errors(build_summarizer, value, SRC)
    if not isinstance(out, AisBenchError):
        assert 1 <= len(out.stats_list) <= 8
        assert all("\n" not in w for w in out.warnings)


@FUZZ
@given(mutated(CONSTS))
def test_build_global_consts_raises_only_config_errors(namespace: Any) -> None:
    if isinstance(namespace, dict):
        out = only_own_errors(build_global_consts, namespace, SRC)
        if not isinstance(out, AisBenchError):
            assert all("\n" not in w for w in out.warnings)


@FUZZ
@given(st.one_of(mutated(SIM), VALUES))
def test_sim_config_raises_only_config_errors(data: Any) -> None:
    only_own_errors(SimConfig.from_dict, data)


def test_starting_points_are_valid() -> None:
    for cls in AISBENCH_BACKENDS:
        assert validate_model({**MODEL, "type": cls}, SRC).type is cls
    assert len(build_datasets(DATASETS, SRC)) == len(DATASETS)
    assert build_summarizer(SUMMARIZER, SRC).stage == "stable"
    assert build_global_consts(CONSTS, SRC).workers_num == 2
    assert SimConfig.from_dict(SIM).max_num_seqs == 4


# --- whole config files --------------------------------------------------------------------------

_FILE_BODIES = [
    "models = [dict(\n",  # syntax error
    "models = [dict(type=VLLMCustomAPIChat abbr='m')]\n",
    "def f(:\n",
    "x = 1\n\x00\n",  # null byte
    "x = " + "(" * 300 + ")" * 300 + "\n",  # too deeply nested to compile
    "x = " + "[" * 5000 + "]" * 5000 + "\n",
    "raise ValueError('bad\\nvalue')\n",
    "raise KeyError('k')\n",
    "raise SystemExit(3)\n",
    "import sys; sys.exit('bye')\n",
    "1/0\n",
    "def f(): return f()\nf()\n",  # RecursionError
    "import no_such_module_xyz\n",
    "from .no_such_sibling import models\n",
    "from ais_bench.benchmark.configs.models.no_such import models\n",
    "from ais_bench.benchmark.models import NoSuchBackend\n",
    "models = 3\n",
    "models = 'VLLMCustomAPIChat'\n",
    "models = []\n",
    "models = [None]\n",
    "models = (x for x in [])\n",
    "models = {1: 2}\n",
    "models = [dict(type=1, abbr=2)]\n",
    "models = [dict(abbr='m')]\n",
    "datasets = 3\nmodels = []\n",
    "x_datasets = [1]\n",
    "x_datasets = []\n",
    "x_datasets = 'abc'\n",
    "summarizer = 5\n",
    "summarizer = dict(attr='performance', type=1, calculator=dict(type=10**5000))\n",
    "WORKERS_NUM = 10**5000\nMAX_CHUNK_SIZE = 10**5000\n",
    "REQUEST_TIME_OUT = float('nan')\nLOG_LEVEL = []\n",
    "class R:\n    def __repr__(self):\n        raise RuntimeError('no repr')\nmodels = [dict(type=R(), abbr=R())]\n",
    "class S(str):\n    pass\nmodels = [dict(type='VLLMCustomAPIChat', abbr=S('m'))]\n",
    "class E(Exception):\n    def __str__(self):\n        raise RuntimeError('no str')\nraise E()\n",
]
def _repr(value: Any) -> str:
    try:
        return repr(value)
    except ValueError:  # an int too long to print
        return "None"


_LOADERS = [load_config_file, load_models, load_datasets, load_summarizer, load_global_consts, load_run_config]


@pytest.mark.parametrize("body", _FILE_BODIES)
def test_bad_config_files_give_one_line(tmp_path: Path, body: str) -> None:
    path = tmp_path / "cfg.py"
    path.write_text("from ais_bench.benchmark.models import VLLMCustomAPIChat\n" + body)
    for loader in _LOADERS:
        only_own_errors(loader, path)


def test_unreadable_and_odd_paths_give_one_line(tmp_path: Path) -> None:
    (tmp_path / "latin1.py").write_bytes(b"x = '\xff\xfe'\n")
    (tmp_path / "folder.py").mkdir()
    for path in (tmp_path / "latin1.py", tmp_path / "folder.py", tmp_path / "missing.py", "a\x00b.py", ""):
        for loader in _LOADERS:
            only_own_errors(loader, path)


@FUZZ
@given(body=st.one_of(st.text(max_size=60), st.builds(lambda v: f"models = {_repr(v)}\nx_datasets = {_repr(v)}\n", VALUES)))
def test_random_config_file_text(tmp_path_factory: pytest.TempPathFactory, body: str) -> None:
    path = tmp_path_factory.mktemp("cfg") / "cfg.py"
    path.write_text(body, encoding="utf-8", errors="surrogatepass")
    for loader in _LOADERS:
        only_own_errors(loader, path)
