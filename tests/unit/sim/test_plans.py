"""Seeded request plans and the pre-serialised event templates."""

from __future__ import annotations

import json

from ais_bench.sim.config import SimConfig
from ais_bench.sim.faults import FAULT_NONE, PlanDrawer
from ais_bench.sim.responses import KIND_CHAT, KIND_COMPLETIONS, EventTemplates, RequestInfo, token_event
from ais_bench.sim.tokens import OUTPUT_WORDS, InputTokenCounter, output_text


def test_plans_are_seeded_and_within_bounds():
    drawer_a, drawer_b = PlanDrawer(SimConfig(seed=1)), PlanDrawer(SimConfig(seed=1))
    plans_a = [drawer_a.draw(10, False) for _ in range(200)]
    assert plans_a == [drawer_b.draw(10, False) for _ in range(200)]
    assert {p.output_tokens for p in plans_a} == set(range(1, 11))
    assert all(p.fault == FAULT_NONE and 1 <= p.fault_at_tokens <= p.output_tokens for p in plans_a)


def test_ignore_eos_and_max_dist_give_max_tokens():
    assert PlanDrawer(SimConfig()).draw(33, True).output_tokens == 33
    assert PlanDrawer(SimConfig(output_len_dist="max")).draw(33, False).output_tokens == 33


def test_fault_shares():
    drawer = PlanDrawer(SimConfig(fail_rate=0.25, reset_rate=0.25, stall_rate=0.25, malformed_rate=0.25))
    faults = [drawer.draw(5, False).fault for _ in range(2000)]
    for kind in ("fail", "reset", "stall", "malformed"):
        assert 400 <= faults.count(kind) <= 600


def test_templates_equal_json_encoding():
    for kind in (KIND_CHAT, KIND_COMPLETIONS):
        info = RequestInfo(kind, 'id-"x"', 123, "m\\odel", 7, include_usage=True)
        templates = EventTemplates(info)
        for i, word in enumerate(OUTPUT_WORDS):
            framed = templates.token(i)
            size, payload = framed.split(b"\r\n", 1)
            assert int(size, 16) == len(payload) - 2
            assert payload[:-2] == token_event(info, word, None)
            json.loads(payload[len(b"data: ") : -4])


def test_approximate_token_counts():
    counter = InputTokenCounter()
    assert counter.count_prompt("abcdefghi") == 3  # ceil(9 chars / 4)
    assert counter.count_prompt("A A A A A A") == 6  # one token per word at least (11 chars -> 3)
    assert counter.count_prompt([1, 2, 3, 4]) == 4
    messages = [
        {"role": "system", "content": "abcd"},
        {"role": "user", "content": [{"type": "text", "text": "ab"}]},
    ]
    assert counter.count_messages(messages) == 3 + (4 + 1) + (4 + 1)
    assert output_text(3) == "".join(OUTPUT_WORDS[:3])


def test_the_demo_answers_stop_before_max_out_len_as_its_config_comment_says():
    # synthetic_demo's comment: max_out_len is the sampled length (32..96); sim_api_stream_chat sets
    # ignore_eos=False, so the simulator ends each answer at a length uniform in [1, max_out_len]
    from ais_bench.config.datasets import load_datasets
    from ais_bench.config.models import load_models
    from ais_bench.config.resolve import resolve_config_file
    from ais_bench.datasets import load_items

    model = load_models(resolve_config_file("models", "sim_api_stream_chat", "/nonexistent").path)[0]
    dataset = load_datasets(resolve_config_file("datasets", "synthetic_demo", "/nonexistent").path)[0]
    assert model.generation_kwargs.get("ignore_eos") is False
    max_out = [item.max_out_len for item in load_items(dataset, None)]
    assert min(max_out) >= 32 and max(max_out) <= 96 and len(set(max_out)) > 1
    drawer = PlanDrawer(model.simulator)
    outputs = [drawer.draw(n, False).output_tokens for n in max_out]
    assert all(1 <= out <= n for out, n in zip(outputs, max_out, strict=True))
    assert sum(out < n for out, n in zip(outputs, max_out, strict=True)) > len(max_out) // 2
    assert all(drawer.draw(n, True).output_tokens == n for n in max_out)  # with ignore_eos=True: exactly
    text = (resolve_config_file("datasets", "synthetic_demo", "/nonexistent").path).read_text()
    assert "ignore_eos=True" in text and "asks for exactly" not in text
