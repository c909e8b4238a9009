"""``PromptTemplate`` markers (see ``ais_bench.benchmark.openicl``) and AISBench's template roles."""

#: The roles of AISBench prompt-template turns and their OpenAI names; the config loader translates
#: a template's turns with it (other roles are lower-cased).
AISBENCH_ROLES = {"HUMAN": "user", "BOT": "assistant", "SYSTEM": "system", "TOOL": "tool"}


class PromptTemplate:
    """Marks a prompt template dict in ``infer_cfg``."""


class MultiTurnPromptTemplate:
    """Marks a multi-turn template (``round`` of HUMAN/BOT turns); ShareGPT builds its messages itself."""


__all__ = ["AISBENCH_ROLES", "MultiTurnPromptTemplate", "PromptTemplate"]
