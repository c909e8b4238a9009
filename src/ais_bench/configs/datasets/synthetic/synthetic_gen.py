from ais_bench.benchmark.datasets import SyntheticDataset

# Generated string prompts, no files needed: each prompt is "A A A ..." of the sampled input length
# (one token per "A" for most tokenizers) and asks for its sampled output length (max_out_len per row).
# Methods: "uniform" (MinValue, MaxValue), "gaussian" (Mean, Var, clipped to [MinValue, MaxValue]),
# "zipf" (Alpha in (1, 10], clipped to [MinValue, MaxValue]). Lengths in [1, 2**20].
synthetic_config = {
    "Type": "string",
    "RequestCount": 1000,  # 1 .. 2**20
    "StringConfig": {
        "Input": {"Method": "uniform", "Params": {"MinValue": 256, "MaxValue": 1024}},
        "Output": {"Method": "uniform", "Params": {"MinValue": 128, "MaxValue": 512}},
    },
}

synthetic_datasets = [
    dict(
        abbr="synthetic",
        type=SyntheticDataset,
        config=synthetic_config,
        seed=0,  # same seed, same rows (None: new rows each run)
    )
]
