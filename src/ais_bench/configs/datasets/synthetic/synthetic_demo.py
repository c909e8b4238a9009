from ais_bench.benchmark.datasets import SyntheticDataset

# Generated prompts, no download needed: each prompt is "A A A ..." of the input length (in tokens,
# roughly), and each request's max_out_len is its sampled output length. The answer is exactly that
# long only when the model config sets generation_kwargs ignore_eos=True; sim_api_stream_chat sets
# ignore_eos=False, so the simulator ends each answer at a length drawn uniformly in [1, max_out_len],
# as a model stopping at its end-of-sequence token would.
synthetic_config = {
    "Type": "string",
    "RequestCount": 200,
    "StringConfig": {
        "Input": {"Method": "uniform", "Params": {"MinValue": 128, "MaxValue": 128}},
        "Output": {"Method": "uniform", "Params": {"MinValue": 32, "MaxValue": 96}},
    },
}

synthetic_datasets = [
    dict(
        abbr="synthetic",
        type=SyntheticDataset,
        config=synthetic_config,
        seed=0,  # same seed, same rows
    )
]
