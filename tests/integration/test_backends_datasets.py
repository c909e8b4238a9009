"""Datasets end to end against the embedded simulator: a timestamp trace sent on its schedule with
prompts generated from the model's tokenizer, and a synthetic tokenid dataset."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ais_bench.cli.main import main
from tests.support.configs import only_run_dir, write_sim_model_config
from tests.support.paths import SMOLLM2_DIR, require

pytestmark = require(SMOLLM2_DIR, "SmolLM2 tokenizer")

TIMESTAMPS_MS = [0, 300, 350, 900, 1200]


def _write_dataset(cfg: Path, name: str, text: str) -> None:
    (cfg / "datasets").mkdir(parents=True, exist_ok=True)
    (cfg / "datasets" / f"{name}.py").write_text(text)


def _details(tmp_path: Path, abbr: str, ds: str) -> list[dict]:
    perf = only_run_dir(tmp_path / "out") / "performances" / abbr
    return [json.loads(line) for line in (perf / f"{ds}_details.jsonl").read_text().splitlines()]


def _run(tmp_path: Path, dataset: str) -> int:
    return main([
        "--models", "sim_model", "--datasets", dataset, "--mode", "perf", "--num-warmups", "0",
        "--config-dir", str(tmp_path / "cfg"), "--work-dir", str(tmp_path / "out"), "--dump-text",
    ])


def test_trace_is_sent_on_its_timestamps(tmp_path: Path) -> None:
    trace = tmp_path / "trace.jsonl"
    rows = [{"timestamp": t, "input_length": 40 + i, "output_length": 4} for i, t in enumerate(TIMESTAMPS_MS)]
    rows[1] = {"timestamp": TIMESTAMPS_MS[1], "input_text": "What is the capital of France?", "output_length": 4}
    trace.write_text("".join(json.dumps(r) + "\n" for r in reversed(rows)))  # unsorted on purpose
    _write_dataset(tmp_path / "cfg", "trace", f"""from ais_bench.benchmark.datasets import MooncakeTraceDataset

trace_datasets = [dict(abbr="trace", type=MooncakeTraceDataset, path={str(trace)!r}, random_seed=1)]
""")
    write_sim_model_config(tmp_path / "cfg", "sim_model", {"max_num_seqs": 8, "seed": 0}, host_ip="127.0.0.1",
                           batch_size=8, use_timestamp=True, path=str(SMOLLM2_DIR), model="",
                           generation_kwargs={"ignore_eos": True})
    assert _run(tmp_path, "trace") == 0
    details = sorted(_details(tmp_path, "sim-model", "trace"), key=lambda d: d["data_index"])
    assert [d["success"] for d in details] == [True] * 5
    # Planned on the trace's timestamps (sorted, relative to the first) and never sent before the plan;
    # the lag bound only rules out a send that waits for something else (the previous request's end, a
    # tick): on an idle machine it is under 1 ms, a loaded one delays single sends by tens of ms.
    scheduled = np.array([d["scheduled_s"] for d in details])
    np.testing.assert_allclose(scheduled - scheduled[0], np.array(TIMESTAMPS_MS) / 1000, atol=1e-9)
    lag = np.array([d["start_s"] for d in details]) - scheduled
    assert lag.min() >= 0 and lag.max() < 0.25
    assert details[1]["input"] == [{"role": "user", "content": "What is the capital of France?"}]
    assert all(d["output_tokens"] == 4 for d in details)


def test_synthetic_tokenid_prompts(tmp_path: Path) -> None:
    _write_dataset(tmp_path / "cfg", "tid", """from ais_bench.benchmark.datasets import SyntheticDataset

tid_datasets = [dict(abbr="tid", type=SyntheticDataset, seed=3,
                     config={"Type": "tokenid", "RequestCount": 6, "TokenIdConfig": {"RequestSize": 64, "PrefixLen": 32}})]
""")
    write_sim_model_config(tmp_path / "cfg", "sim_model", {"max_num_seqs": 4, "seed": 0}, host_ip="127.0.0.1",
                           batch_size=3, path=str(SMOLLM2_DIR), model="", stream=False, max_out_len=5,
                           backend="VLLMCustomAPI")
    assert _run(tmp_path, "tid") == 0
    details = _details(tmp_path, "sim-model", "tid")
    assert len(details) == 6 and all(d["success"] for d in details)
    from ais_bench.tokens import load_tokenizer

    tok = load_tokenizer(SMOLLM2_DIR)
    prompts = {d["data_index"]: d["input"] for d in details}
    assert all(len(tok.encode(p)) == 64 for p in prompts.values())
    assert len({tuple(tok.encode(p)[:32]) for p in prompts.values()}) == 1


def test_custom_dataset_path_flag(tmp_path: Path) -> None:
    prompts = tmp_path / "my_prompts.jsonl"
    rows = [{"prompt": "Hello there"}, {"question": "What is 2+2?", "max_out_len": 3},
            {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]}]
    prompts.write_text("".join(json.dumps(r) + "\n" for r in rows))
    write_sim_model_config(tmp_path / "cfg", "sim_model", {"max_num_seqs": 4, "seed": 0}, host_ip="127.0.0.1",
                           batch_size=2, path=str(SMOLLM2_DIR), model="", max_out_len=6)
    assert main([
        "--models", "sim_model", "--custom-dataset-path", str(prompts), "--mode", "perf", "--num-warmups", "0",
        "--config-dir", str(tmp_path / "cfg"), "--work-dir", str(tmp_path / "out"), "--dump-text",
    ]) == 0
    details = sorted(_details(tmp_path, "sim-model", "my_prompts"), key=lambda d: d["data_index"])
    assert [d["input"] for d in details] == [
        [{"role": "user", "content": "Hello there"}],
        [{"role": "user", "content": "What is 2+2?"}],
        rows[2]["messages"],
    ]
    assert all(d["success"] for d in details)
