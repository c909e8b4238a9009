from mmengine.config import read_base

with read_base():
    from ..gsm8k.gsm8k_gen_0_shot_cot_str_perf import gsm8k_datasets

# Only the first 8 test questions.
gsm8k_datasets[0]["abbr"] = "demo_" + gsm8k_datasets[0]["abbr"]
gsm8k_datasets[0]["reader_cfg"]["test_range"] = "[0:8]"
