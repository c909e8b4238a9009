"""``PromptTemplate`` marker (see ``ais_bench.benchmark.openicl``)."""


class PromptTemplate:
    """Marks a prompt template dict in ``infer_cfg``."""


__all__ = ["PromptTemplate"]
