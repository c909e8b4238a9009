from ais_bench.benchmark.openicl.icl_prompt_template import MultiTurnPromptTemplate
from ais_bench.benchmark.openicl.icl_retriever import ZeroRetriever
from ais_bench.benchmark.openicl.icl_inferencer import MultiTurnGenInferencer
from ais_bench.benchmark.datasets import ShareGPTDataset

sharegpt_reader_cfg = dict(input_columns=["question", "answer", "max_out_len"], output_column="answer")

sharegpt_infer_cfg = dict(
    prompt_template=dict(
        type=MultiTurnPromptTemplate,
        template=dict(round=[dict(role="HUMAN", prompt="{question}"), dict(role="BOT", prompt="{answer}")]),
    ),
    retriever=dict(type=ZeroRetriever),
    # "every": one request per turn, history = earlier turns with the dataset's answers; "last": last turn only
    inferencer=dict(type=MultiTurnGenInferencer, infer_mode="every"),
)

sharegpt_datasets = [
    dict(
        abbr="sharegpt",
        type=ShareGPTDataset,
        disable_shuffle=True,  # False: shuffle conversations with seed
        # JSON array of {"id", "conversations": [{"from": "human"|"gpt", "value"}]}; relative paths are
        # below the data root (AIS_BENCH_DATA_ROOT), absolute paths used as is
        path="ais_bench/datasets/sharegpt/ShareGPT_V3_unfiltered_cleaned_split.json",
        reader_cfg=sharegpt_reader_cfg,
        infer_cfg=sharegpt_infer_cfg,
    )
]
