from ais_bench.benchmark.datasets import SyntheticDataset

# Generated prompts, no download needed: each prompt is "A A A ..." of the input length (in tokens,
# roughly), and each request asks for exactly its sampled output length (max_out_len per row).
synthetic_config = {
    "Type": "string",
    "RequestCount": 40,
    "StringConfig": {
        "Input": {"Method": "uniform", "Params": {"MinValue": 128, "MaxValue": 128}},
        "Output": {"Method": "uniform", "Params": {"MinValue": 32, "MaxValue": 96}},
    },
}

synthetic_datasets = [
    dict(
        abbr="tiny",
        type=SyntheticDataset,
        config=synthetic_config,
        seed=0,  # same seed, same rows
    )
]
