from ais_bench.benchmark.openicl.icl_prompt_template import PromptTemplate
from ais_bench.benchmark.openicl.icl_retriever import ZeroRetriever
from ais_bench.benchmark.openicl.icl_inferencer import GenInferencer
from ais_bench.benchmark.datasets import GSM8KDataset

gsm8k_reader_cfg = dict(input_columns=["question"], output_column="answer")

# Zero-shot string prompt (for completions backends such as vllm_api_general_stream).
gsm8k_infer_cfg = dict(
    prompt_template=dict(
        type=PromptTemplate,
        template="{question}\nPlease reason step by step, and put your final answer within \\boxed{}.",
    ),
    retriever=dict(type=ZeroRetriever),
    inferencer=dict(type=GenInferencer),
)

gsm8k_datasets = [
    dict(
        abbr="gsm8k",
        type=GSM8KDataset,
        path="ais_bench/datasets/gsm8k",
        reader_cfg=gsm8k_reader_cfg,
        infer_cfg=gsm8k_infer_cfg,
    )
]
