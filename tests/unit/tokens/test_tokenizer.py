"""The offline Hugging Face tokenizer: loading, chat template, counting rules, generated prompts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ais_bench.errors import ConfigError
from ais_bench.tokens import load_tokenizer
from ais_bench.tokens.chat_template import ChatTemplateError, compile_chat_template, render_chat
from tests.support.paths import SMOLLM2_DIR, require

needs_smollm2 = require(SMOLLM2_DIR, "SmolLM2 tokenizer")

SYSTEM = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer(SMOLLM2_DIR)


@needs_smollm2
def test_chat_template_renders_like_transformers(tok) -> None:
    text = tok.render_chat([{"role": "user", "content": "What is 2+2?"}])
    assert text == SYSTEM + "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"
    with_system = tok.render_chat([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}])
    assert with_system.startswith("<|im_start|>system\nBe brief.<|im_end|>\n")


@needs_smollm2
def test_prompt_counts(tok) -> None:
    chat = [{"role": "user", "content": "What is 2+2?"}]
    rendered = tok.render_chat(chat)
    counts = tok.count_prompts(["hello world", chat])
    assert counts.tolist() == [len(tok.encode("hello world", add_special_tokens=True)), len(tok.encode(rendered))]
    assert counts[1] > 20  # the default system prompt is counted too
    assert tok.warnings == []


@needs_smollm2
def test_output_counts_include_reasoning(tok) -> None:
    counts = tok.count_outputs(["The answer is 4.", "4", ""], ["", "2 plus 2", ""])
    assert counts[0] == len(tok.encode("The answer is 4."))
    assert counts[1] == len(tok.encode("2 plus 2</think>4"))
    assert counts[2] == 0


@needs_smollm2
def test_batches_cover_every_text(tok, monkeypatch: pytest.MonkeyPatch) -> None:
    import ais_bench.tokens.tokenizer as module

    monkeypatch.setattr(module, "BATCH_TEXTS", 3)
    texts = [" word" * k for k in range(10)]
    assert tok.count_texts(texts).tolist() == list(range(10))


@needs_smollm2
def test_counting_many_outputs_in_batches_counts_each_text(tok) -> None:
    """Several batches (their speed: ``bench/recalc_speed.py``), each text counted as ``encode``
    counts it, in order."""
    texts = [f"Sample output number {i} with {'a few more ' * (i % 7)}words to count." for i in range(20000)]
    counts = tok.count_texts(texts)
    sample = range(0, len(texts), 97)
    assert [int(counts[i]) for i in sample] == [len(tok.encode(texts[i])) for i in sample]
    assert counts.shape == (len(texts),)


@needs_smollm2
def test_word_pool_texts_retokenize_exactly(tok) -> None:
    pool = tok.word_pool
    assert len(pool) > 1000 and not set(pool.tolist()) & tok.special_ids
    rng = np.random.default_rng(1)
    for n in (1, 7, 300):
        text = tok.decode(rng.choice(pool, n).tolist())
        assert len(tok.encode(text)) == n


def _folder(tmp_path: Path, config: dict | None) -> Path:
    folder = tmp_path / "tok"
    folder.mkdir()
    (folder / "tokenizer.json").write_bytes((SMOLLM2_DIR / "tokenizer.json").read_bytes())
    if config is not None:
        (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return folder


@needs_smollm2
def test_without_chat_template_contents_are_joined(tmp_path: Path) -> None:
    tok = load_tokenizer(_folder(tmp_path, None))
    chat = [{"role": "system", "content": "a"}, {"role": "user", "content": "b c"}]
    assert tok.count_prompts([chat]).tolist() == [len(tok.encode("a\nb c", add_special_tokens=True))]
    assert any("no chat_template" in w for w in tok.warnings)


@needs_smollm2
def test_refusing_template_falls_back_with_warning(tmp_path: Path) -> None:
    template = "{% if messages[0]['role'] != 'user' %}{{ raise_exception('user first') }}{% endif %}x"
    tok = load_tokenizer(_folder(tmp_path, {"chat_template": template, "bos_token": {"content": "<s>"}}))
    assert tok.special_tokens == {"bos_token": "<s>"}
    counts = tok.count_prompts([[{"role": "assistant", "content": "hi"}], [{"role": "user", "content": "q"}]])
    assert counts[1] == len(tok.encode("x"))
    assert any("refused 1 chat prompt" in w for w in tok.warnings)


def test_missing_tokenizer_json_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no tokenizer\.json") as info:
        load_tokenizer(tmp_path)
    assert "path" in (info.value.hint or "")


def test_template_helpers() -> None:
    template = compile_chat_template(
        "{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}{% if add_generation_prompt %}>{% endif %}"
        "{{ bos_token }}{{ messages | tojson }}"
    )
    out = render_chat(template, [{"role": "user", "content": "é"}], {"bos_token": "<s>"})
    assert out == '[user:é]><s>[{"role": "user", "content": "é"}]'
    with pytest.raises(ChatTemplateError, match="nope"):
        render_chat(compile_chat_template("{{ raise_exception('nope') }}"), [], {})
    with pytest.raises(ConfigError, match="not a valid jinja2 template"):
        compile_chat_template("{% for %}")
