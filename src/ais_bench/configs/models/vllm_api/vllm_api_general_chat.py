from ais_bench.benchmark.models import VLLMCustomAPIChat
from ais_bench.benchmark.utils.postprocess.model_postprocessors import extract_non_reasoning_content

models = [
    dict(
        attr="service",
        type=VLLMCustomAPIChat,  # POST v1/chat/completions
        abbr="vllm-api-general-chat",
        path="",  # tokenizer folder of the served model (for token counts when the server sends no usage)
        model="",  # served model name; "" = ask the server (GET /v1/models)
        stream=False,
        request_rate=0,  # requests/s across all workers; 0 = as fast as batch_size allows
        use_timestamp=False,
        retry=2,  # extra attempts after the first, on connection errors and timeouts only
        api_key="",
        host_ip="localhost",
        host_port=8080,
        url="",  # e.g. "https://my-host:8443/"; replaces http://host_ip:host_port/ when set
        max_out_len=512,
        batch_size=1,  # maximum concurrency
        trust_remote_code=False,
        generation_kwargs=dict(
            temperature=0.01,
            ignore_eos=False,
        ),
        pred_postprocessor=dict(type=extract_non_reasoning_content),  # accuracy only; ignored in perf
    )
]
