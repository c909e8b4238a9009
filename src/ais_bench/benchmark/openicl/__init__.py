"""Prompt-template, retriever and inferencer names used by AISBench dataset config files.

``PromptTemplate`` marks ``infer_cfg.prompt_template`` whose ``template`` (a string, or a dict with a
``round`` list of ``dict(role=..., prompt=...)``) the dataset loaders read. The others are markers.
"""

from ais_bench.benchmark.openicl.icl_evaluator import AccEvaluator
from ais_bench.benchmark.openicl.icl_inferencer import GenInferencer, MultiTurnGenInferencer
from ais_bench.benchmark.openicl.icl_prompt_template import MultiTurnPromptTemplate, PromptTemplate
from ais_bench.benchmark.openicl.icl_retriever import FixKRetriever, ZeroRetriever

__all__ = [
    "AccEvaluator",
    "FixKRetriever",
    "GenInferencer",
    "MultiTurnGenInferencer",
    "MultiTurnPromptTemplate",
    "PromptTemplate",
    "ZeroRetriever",
]
