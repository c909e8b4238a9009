"""resolve_token_counts: usage, then the tokenizer's stored counts, then content events; the 1 %
mismatch warning; the counts stored with the run (``records/<ds>.tokens.npz``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ais_bench.records.columns import RecordColumns, load_texts, read_record_columns
from ais_bench.records.record import RequestRecord
from ais_bench.records.table import resolve_token_counts, store_output_token_counts
from ais_bench.records.token_counts import read_token_counts, store_prompt_token_counts
from ais_bench.tokens import load_tokenizer
from tests.support.paths import SMOLLM2_DIR, require
from tests.support.records import columns_of, write_records

needs_smollm2 = require(SMOLLM2_DIR, "SmolLM2 tokenizer")


def _rec(i: int, text: str, *, usage: tuple[int | None, int | None] = (None, None), success: bool = True,
         data_index: int = 0, events: int = 3, reasoning: str = "") -> RequestRecord:
    return RequestRecord(
        request_id=i, data_index=data_index, data_abbr="ds", worker_id=0, success=success, start_s=0.0,
        end_s=1.0, usage_input_tokens=usage[0], usage_output_tokens=usage[1], content_events=events,
        output_text=text, reasoning_text=reasoning,
    )


def _live_counts(perf_dir: Path, tokenizer, prompts: list, records: list[RequestRecord]) -> RecordColumns:
    """What a live run does: prompts counted and stored before sending, the records written by the
    workers, the outputs counted and stored after the run."""
    store_prompt_token_counts(perf_dir, "ds", tokenizer, prompts)
    write_records(perf_dir, records)
    columns = read_record_columns(perf_dir, "ds")
    store_output_token_counts(perf_dir, columns, tokenizer, load_texts(perf_dir, "ds"))
    return columns


def test_without_tokenizer_events_and_warnings() -> None:
    counts = resolve_token_counts(columns_of([_rec(0, "a b", usage=(5, 7)), _rec(1, "x", events=4)]))
    assert counts.input_tokens.tolist() == [5, 0] and counts.output_tokens.tolist() == [7, 4]
    assert counts.input_source.tolist() == ["usage", "none"] and counts.output_source.tolist() == ["usage", "events"]
    assert len(counts.warnings) == 2 and all("tokenizer" in w for w in counts.warnings)


def test_empty() -> None:
    counts = resolve_token_counts(columns_of([]))
    assert counts.input_tokens.tolist() == [] and counts.warnings == []


@needs_smollm2
def test_tokenizer_fills_what_usage_lacks(tmp_path: Path) -> None:
    tok = load_tokenizer(SMOLLM2_DIR)
    prompts = ["hello world", [{"role": "user", "content": "hi"}]]
    records = [_rec(0, " one two three", data_index=1), _rec(1, " four", data_index=0, reasoning="think")]
    counts = resolve_token_counts(_live_counts(tmp_path, tok, prompts, records))
    assert counts.output_tokens.tolist() == [3, len(tok.encode("think</think> four"))]
    assert counts.input_tokens.tolist() == [tok.count_prompts([prompts[1]])[0], tok.count_prompts([prompts[0]])[0]]
    assert set(counts.input_source) == set(counts.output_source) == {"tokenizer"}
    assert counts.warnings == []


@needs_smollm2
def test_the_stored_counts_are_what_a_recalculation_reads(tmp_path: Path) -> None:
    tok = load_tokenizer(SMOLLM2_DIR)
    records = [_rec(0, " one two three", usage=(None, 3)), _rec(1, " four five", data_index=1)]
    live = resolve_token_counts(_live_counts(tmp_path, tok, ["a b c", "d"], records))
    stored = read_token_counts(tmp_path, "ds")
    assert stored is not None and stored.tokenizer_path == str(tok.path)
    assert stored.prompt_tokens.tolist() == tok.count_prompts(["a b c", "d"]).tolist()
    assert stored.output_request_id is not None and stored.output_request_id.tolist() == [0, 1]  # sample + no usage
    again = resolve_token_counts(read_record_columns(tmp_path, "ds"))  # no tokenizer involved
    assert again.input_tokens.tolist() == live.input_tokens.tolist()
    assert again.output_tokens.tolist() == live.output_tokens.tolist() == [3, 2]
    assert again.output_source.tolist() == ["usage", "tokenizer"]


@needs_smollm2
def test_a_run_killed_before_its_outputs_were_counted_falls_back_to_events(tmp_path: Path) -> None:
    tok = load_tokenizer(SMOLLM2_DIR)
    store_prompt_token_counts(tmp_path, "ds", tok, ["a b c"])
    write_records(tmp_path, [_rec(0, " one two", events=2)])
    counts = resolve_token_counts(read_record_columns(tmp_path, "ds"))
    assert counts.input_source.tolist() == ["tokenizer"] and counts.output_source.tolist() == ["events"]
    assert counts.output_tokens.tolist() == [2]
    assert any("the run stopped before the tokenizer counted them" in w for w in counts.warnings)


@needs_smollm2
@pytest.mark.parametrize(("server_out", "warns"), [(100, False), (101, False), (103, True), (97, True)])
def test_mismatch_above_one_percent_is_reported(tmp_path: Path, server_out: int, warns: bool) -> None:
    tok = load_tokenizer(SMOLLM2_DIR)
    text = " word" * 100  # 100 tokens
    columns = _live_counts(tmp_path, tok, ["x"], [_rec(0, text, usage=(None, server_out))])
    counts = resolve_token_counts(columns)
    assert counts.output_tokens.tolist() == [server_out] and counts.output_source.tolist() == ["usage"]
    mismatch = [w for w in counts.warnings if w.startswith("output token counts")]
    assert bool(mismatch) is warns
    if warns:
        assert ("more" if server_out < 100 else "fewer") in mismatch[0]
        assert f"100 vs {server_out}" in mismatch[0] and str(SMOLLM2_DIR.resolve()) in mismatch[0]
        # the recalculation says the same from the stored counts alone
        assert resolve_token_counts(read_record_columns(tmp_path, "ds")).warnings == counts.warnings


class _CountingTokenizer:
    """Counts words; remembers how many outputs it was asked to count."""

    path = Path("fake")

    def __init__(self) -> None:
        self.outputs_counted = 0
        self.warnings: list[str] = []

    def count_prompts(self, prompts: list[str]) -> np.ndarray:
        return np.array([len(p.split()) for p in prompts], dtype=np.int64)

    def count_outputs(self, texts: list[str], reasoning: list[str]) -> np.ndarray:
        self.outputs_counted += len(texts)
        return np.array([len(t.split()) for t in texts], dtype=np.int64)


def test_outputs_with_usage_are_checked_on_a_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ais_bench.records.table as table

    monkeypatch.setattr(table, "MISMATCH_SAMPLE", 3)
    tok = _CountingTokenizer()
    records = [_rec(i, "a b c d", usage=(None, 4)) for i in range(50)] + [_rec(50, "x y")]
    counts = resolve_token_counts(_live_counts(tmp_path, tok, ["p q"], records))
    assert tok.outputs_counted == 3 + 1  # the sample, and the one request without usage
    assert counts.output_tokens.tolist() == [4] * 50 + [2]
    assert counts.output_source.tolist() == ["usage"] * 50 + ["tokenizer"]
    assert counts.input_tokens.tolist() == [2] * 51
    assert not [w for w in counts.warnings if w.startswith("output token counts")]
