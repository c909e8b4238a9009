"""resolve_token_counts: usage, then the tokenizer, then content events; the 1 % mismatch warning."""

from __future__ import annotations

import pytest

from ais_bench.records.record import RequestRecord
from ais_bench.records.table import resolve_token_counts
from ais_bench.tokens import load_tokenizer
from tests.support.paths import SMOLLM2_DIR, require

needs_smollm2 = require(SMOLLM2_DIR, "SmolLM2 tokenizer")


def _rec(i: int, text: str, *, usage: tuple[int | None, int | None] = (None, None), success: bool = True,
         data_index: int = 0, events: int = 3, reasoning: str = "") -> RequestRecord:
    return RequestRecord(
        request_id=i, data_index=data_index, data_abbr="d", worker_id=0, success=success, start_s=0.0,
        end_s=1.0, usage_input_tokens=usage[0], usage_output_tokens=usage[1], content_events=events,
        output_text=text, reasoning_text=reasoning,
    )


def test_without_tokenizer_events_and_warnings() -> None:
    counts = resolve_token_counts([_rec(0, "a b", usage=(5, 7)), _rec(1, "x", events=4)])
    assert counts.input_tokens == [5, 0] and counts.output_tokens == [7, 4]
    assert counts.input_source == ["usage", "none"] and counts.output_source == ["usage", "events"]
    assert len(counts.warnings) == 2 and all("tokenizer" in w for w in counts.warnings)


def test_empty() -> None:
    counts = resolve_token_counts([])
    assert counts.input_tokens == [] and counts.warnings == []


@needs_smollm2
def test_tokenizer_fills_what_usage_lacks() -> None:
    tok = load_tokenizer(SMOLLM2_DIR)
    prompts = ["hello world", [{"role": "user", "content": "hi"}]]
    records = [_rec(0, " one two three", data_index=1), _rec(1, " four", data_index=0, reasoning="think")]
    counts = resolve_token_counts(records, tok, prompts)
    assert counts.output_tokens == [3, len(tok.encode("think</think> four"))]
    assert counts.input_tokens == [tok.count_prompts([prompts[1]])[0], tok.count_prompts([prompts[0]])[0]]
    assert set(counts.input_source) == set(counts.output_source) == {"tokenizer"}
    assert counts.warnings == []
    # without prompts the tokenizer still counts outputs; inputs fall back to 0 with a warning
    counts = resolve_token_counts(records, tok)
    assert counts.input_source == ["none", "none"] and counts.output_source == ["tokenizer", "tokenizer"]
    assert any("usage.prompt_tokens" in w for w in counts.warnings)


@needs_smollm2
@pytest.mark.parametrize(("server_out", "warns"), [(100, False), (101, False), (103, True), (97, True)])
def test_mismatch_above_one_percent_is_reported(server_out: int, warns: bool) -> None:
    tok = load_tokenizer(SMOLLM2_DIR)
    text = " word" * 100  # 100 tokens
    counts = resolve_token_counts([_rec(0, text, usage=(None, server_out))], tok)
    assert counts.output_tokens == [server_out] and counts.output_source == ["usage"]
    mismatch = [w for w in counts.warnings if w.startswith("output token counts")]
    assert bool(mismatch) is warns
    if warns:
        assert ("more" if server_out < 100 else "fewer") in mismatch[0]
        assert f"100 vs {server_out}" in mismatch[0]


class _CountingTokenizer:
    """Counts words; remembers how many outputs it was asked to count."""

    path = "fake"

    def __init__(self) -> None:
        self.outputs_counted = 0
        self.warnings: list[str] = []

    def count_outputs(self, texts, reasoning):
        import numpy as np

        self.outputs_counted += len(texts)
        return np.array([len(t.split()) for t in texts], dtype=np.int64)


def test_outputs_with_usage_are_checked_on_a_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    import ais_bench.records.table as table

    monkeypatch.setattr(table, "MISMATCH_SAMPLE", 3)
    tok = _CountingTokenizer()
    records = [_rec(i, "a b c d", usage=(None, 4)) for i in range(50)] + [_rec(50, "x y")]
    counts = resolve_token_counts(records, tok)  # type: ignore[arg-type]
    assert tok.outputs_counted == 3 + 1  # the sample, and the one request without usage
    assert counts.output_tokens == [4] * 50 + [2]
    assert counts.output_source == ["usage"] * 50 + ["tokenizer"]
    assert not [w for w in counts.warnings if w.startswith("output token counts")]
