"""Finish reasons end to end: kept per request (details jsonl and h5), the mix in ``<ds>.json``, and
the same after a recalculation (``--reuse``). The embedded simulator draws output lengths in
[1, max_tokens]: requests that reach max_tokens end with ``length``, the others with ``stop``."""

from __future__ import annotations

import json
from pathlib import Path

import h5py

from ais_bench.cli.main import main
from tests.support.configs import only_run_dir, write_model_config, write_synthetic_dataset

SIM = {"max_num_seqs": 4, "decode_base_ms": 0.5, "prefill_base_ms": 0.5, "seed": 3}


def _run(tmp_path: Path, *extra: str) -> int:
    return main([
        "--models", "sim", "--datasets", "tiny", "--mode", "perf", "--num-warmups", "0",
        "--config-dir", str(tmp_path / "cfg"), "--work-dir", str(tmp_path / "out"), *extra,
    ])


def test_finish_reasons_are_kept_per_request_and_summed_in_the_json(tmp_path: Path) -> None:
    write_model_config(tmp_path / "cfg", "sim", 0, simulator=SIM, batch_size=4, max_out_len=4,
                       generation_kwargs={"ignore_eos": False})
    write_synthetic_dataset(tmp_path / "cfg", "tiny", 24, input_len=4, output_len=4)
    assert _run(tmp_path) == 0
    perf = only_run_dir(tmp_path / "out") / "performances" / "sim"
    details = [json.loads(line) for line in (perf / "tiny_details.jsonl").read_text().splitlines()]
    reasons = [d["finish_reason"] for d in details]
    assert set(reasons) == {"stop", "length"}  # seed 3 draws both (lengths in [1, 4])
    # a request's finish reason matches its length: length <=> it reached max_out_len
    assert all((d["output_tokens"] == 4) == (d["finish_reason"] == "length") for d in details)
    with h5py.File(perf / "tiny_details.h5") as f:
        assert [r.decode() for r in f["finish_reason"][()]] == reasons
    mix = json.loads((perf / "tiny.json").read_text())["_ais_bench"]["finish_reasons"]
    assert mix == {"stop": reasons.count("stop"), "length": reasons.count("length")} or mix == {
        "length": reasons.count("length"), "stop": reasons.count("stop")
    }
    assert sum(mix.values()) == 24
    # a recalculation from the h5 file reads the same reasons back
    assert _run(tmp_path, "--mode", "perf_viz", "--reuse") == 0
    again = json.loads((perf / "tiny.json").read_text())["_ais_bench"]["finish_reasons"]
    assert again == mix


def test_streams_cut_without_their_end_marker_are_failed_with_the_reason(tmp_path: Path) -> None:
    """The simulator ends half of the streams cleanly after a few tokens, without finish_reason,
    usage or [DONE] (issue 14 item 14): those requests fail, the others succeed, exit 3."""
    write_model_config(tmp_path / "cfg", "sim", 0, simulator={**SIM, "cut_rate": 0.5}, batch_size=4,
                       max_out_len=8, generation_kwargs={"ignore_eos": True})
    write_synthetic_dataset(tmp_path / "cfg", "tiny", 24, input_len=4, output_len=8)
    assert _run(tmp_path) == 3
    perf = only_run_dir(tmp_path / "out") / "performances" / "sim"
    details = [json.loads(line) for line in (perf / "tiny_details.jsonl").read_text().splitlines()]
    failed = [d for d in details if not d["success"]]
    assert 0 < len(failed) < 24
    assert all(d["error"].startswith("stream cut after ") and "it ended without data: [DONE]" in d["error"]
               for d in failed)
    assert all(d["finish_reason"] == "length" for d in details if d["success"])
