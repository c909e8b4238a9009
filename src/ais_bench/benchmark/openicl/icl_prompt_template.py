"""``PromptTemplate`` markers (see ``ais_bench.benchmark.openicl``)."""


class PromptTemplate:
    """Marks a prompt template dict in ``infer_cfg``."""


class MultiTurnPromptTemplate:
    """Marks a multi-turn template (``round`` of HUMAN/BOT turns); ShareGPT builds its messages itself."""


__all__ = ["MultiTurnPromptTemplate", "PromptTemplate"]
