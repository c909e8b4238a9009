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
