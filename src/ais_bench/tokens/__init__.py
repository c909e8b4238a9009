"""Token counting with a real tokenizer (the model config's ``path``), between records and metrics.

``load_tokenizer(path) -> TextTokenizer`` (cached per folder): ``count_prompts``, ``count_outputs``,
``count_texts``, ``render_chat``, and the helpers dataset generators use (``encode``, ``decode``,
``word_pool``, ``special_ids``). See ``tokenizer.py`` for the counting rules.
"""

from ais_bench.tokens.tokenizer import TextTokenizer, load_tokenizer

__all__ = ["TextTokenizer", "load_tokenizer"]
